"""Benchmark: what one archlag process costs in a steady state, side by side with the bare httpx
calls it wraps, in one run against one registry.

The real Debian docker-registry on loopback holds R repositories x T tags (default 500 x 20),
every tag a two-platform index. In the same run it measures:

- the bare loops: an ``httpx.AsyncClient`` that GETs and parses every tag list, and one that
  sends a ``HEAD`` for every tag (4 requests in flight, as archlag's default), CPU per request
  (median of the rounds, this process's own CPU time), back to back and paced as archlag polls
  (one repository every ``interval / R`` seconds: a request that wakes an idle process costs
  about twice one sent back to back, for httpx alone as for archlag);
- settled (phase 1): archlag started on a fresh state while every tag is already complete (each
  is a baseline), default ``stall_after`` (30m): requests and CPU per poll cycle, so CPU per
  no-change repository poll, and the ratio to the bare GET-and-parse;
- a restart (phase 1): SIGTERM, then archlag again on the same state: requests per cycle over
  the first ``--restart-window`` (the issue says 5 minutes) against the cycle before;
- active (phase 2): other R repositories, empty when archlag first polls them, then filled: every
  tag is a publication archlag saw begin, young for ``stall_after``, so each poll sends one
  ``HEAD`` per tag; CPU per check (the cycle's CPU minus its tag lists at the settled cost),
  and the ratio to the bare ``HEAD``;
- RSS (VmRSS) after a full cycle, ``/metrics`` bytes per tag and the time of a GET of it, and
  the time archlag's exposition takes to render the whole snapshot in this process.

Prints numbers and ratios; asserts nothing. Every wait is bounded; every process is stopped at
the end.

Usage: python -m benchmarks.steady_state [--repositories 500] [--tags 20] [--interval 10s]
           [--cycles 3] [--restart-window 5m]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from benchmarks.shards_scale import (  # noqa: E402
    PLATFORMS,
    cpu_seconds,
    fill,
    metrics_body,
    rss_mib,
    sample_sum,
    tag_names,
    watches,
)
from tests.support.archlag_process import ArchlagProcess  # noqa: E402
from tests.support.pusher import Pusher  # noqa: E402
from tests.support.registry_server import RegistryServer  # noqa: E402

from archlag.core.durations import parse_duration  # noqa: E402
from archlag.registry.manifests import MANIFEST_ACCEPT  # noqa: E402

IN_FLIGHT = 4  # archlag's default registries.<host>.concurrency


# -- the bare loops -----------------------------------------------------------------------------


async def bare_round(
    registry: RegistryServer, groups: list[list[str]], send: str, spacing: float
) -> tuple[float, int]:
    """Send every group of requests (method GET or HEAD, paths), IN_FLIGHT at a time within a
    group; groups start ``spacing`` seconds apart (0: back to back). CPU seconds of this process
    spent, and the number of requests sent."""
    limit = asyncio.Semaphore(IN_FLIGHT)
    accept = ", ".join(MANIFEST_ACCEPT)
    async with httpx.AsyncClient(base_url=registry.url, timeout=30) as client:

        async def one(path: str) -> None:
            async with limit:
                if send == "GET":
                    reply = await client.get(path, params={"n": "1000"})
                    tags = reply.json()["tags"]
                    assert isinstance(tags, list)
                else:
                    reply = await client.head(path, headers={"Accept": accept})
                    assert reply.headers.get("docker-content-digest")

        begun, started = time.monotonic(), time.process_time()
        for index, group in enumerate(groups):
            await asyncio.sleep(max(begun + index * spacing - time.monotonic(), 0.0))
            await asyncio.gather(*(one(path) for path in group))
        return time.process_time() - started, sum(len(group) for group in groups)


def bare_cost(
    registry: RegistryServer, groups: list[list[str]], send: str, spacing: float = 0.0
) -> float:
    """Median CPU seconds per request over rounds (after one to warm up): three back to back,
    two paced."""
    asyncio.run(bare_round(registry, groups[:10], send, 0.0))
    costs = []
    for _ in range(3 if spacing == 0 else 2):
        cpu, count = asyncio.run(bare_round(registry, groups, send, spacing))
        costs.append(cpu / count)
    return statistics.median(costs)


# -- archlag ------------------------------------------------------------------------------------


def counts(process: ArchlagProcess) -> tuple[float, dict[str, float], bytes]:
    """archlag's CPU seconds, its registry requests by method, and the /metrics body."""
    assert process.process is not None
    body = metrics_body(process)
    return cpu_seconds(process.process.pid), sample_sum(body, "archlag_registry_requests_total",
                                                        "method"), body  # fmt: skip


def window(process: ArchlagProcess, seconds: float, repositories: int) -> dict[str, float]:
    """CPU and requests over ``seconds``, per poll cycle (a cycle: one tag list per repository)."""
    cpu0, r0, _ = counts(process)
    time.sleep(seconds)
    cpu1, r1, _ = counts(process)
    gets = r1.get("GET", 0) - r0.get("GET", 0)
    heads = r1.get("HEAD", 0) - r0.get("HEAD", 0)
    cycles = gets / repositories if repositories else 0
    return {
        "seconds": seconds,
        "cpu": cpu1 - cpu0,
        "gets": gets,
        "heads": heads,
        "cycles": cycles,
        "requests_per_cycle": (gets + heads) / cycles if cycles else float("nan"),
        "heads_per_cycle": heads / cycles if cycles else float("nan"),
        "cpu_per_cycle": (cpu1 - cpu0) / cycles if cycles else float("nan"),
    }


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(1.0)
    return time.monotonic() - started


def all_complete(process: ArchlagProcess, repositories: int, tags: int) -> bool:
    try:
        found = watches(process)
    except httpx.HTTPError:
        return False
    return len(found) == repositories and all(
        w["tags"] == tags and w["incomplete_tags"] == 0 and w["status"] == "ok" for w in found
    )


def all_polled(process: ArchlagProcess, repositories: int) -> bool:
    try:
        found = watches(process)
    except httpx.HTTPError:
        return False
    return len(found) == repositories and all(w["status"] != "pending" for w in found)


def config(registry: RegistryServer, repositories: list[str], args: Any, state: Path) -> dict:
    return {
        "state_file": str(state),
        "defaults": {"interval": args.interval, "platforms": PLATFORMS,
                     "tags": {"limit": max(args.tags, 20)}},
        "registries": {registry.host: {"insecure": True}},
        "watches": [{"image": f"{registry.host}/{r}"} for r in repositories],
    }  # fmt: skip


def started(work: Path, settings: dict[str, Any]) -> ArchlagProcess:
    work.mkdir(parents=True, exist_ok=True)
    process = ArchlagProcess(work, settings, ("--web.ready-timeout", "1h", "--log.level", "info"))
    return process.start(timeout=120)


def render_seconds(process: ArchlagProcess) -> float:
    """Median time of five GETs of /metrics (a scrape of the latest rendering)."""
    timings = []
    for _ in range(5):
        begun = time.perf_counter()
        metrics_body(process)
        timings.append(time.perf_counter() - begun)
    return statistics.median(timings)


def settled_phase(registry: RegistryServer, repositories: list[str], args: Any, work: Path) -> dict:
    """Phase 1: baselines, a steady window, a restart and the window after it."""
    interval = parse_duration(args.interval)
    settings = config(registry, repositories, args, work / "settled.db")
    figures: dict[str, Any] = {}
    process = started(work / "settled", settings)
    try:
        figures["first_view_seconds"] = wait_until(
            lambda: all_complete(process, len(repositories), args.tags), 1800, "the first view"
        )
        time.sleep(interval)  # one more cycle: everything polled since the first view
        figures["before"] = window(process, args.cycles * interval, len(repositories))
        assert process.process is not None
        figures["rss_mib"] = rss_mib(process.process.pid)
        body = metrics_body(process)
        figures["metrics_bytes"] = len(body)
        packed = httpx.get(
            f"{process.url}/metrics", headers={"Accept-Encoding": "gzip"}, timeout=60
        )
        figures["metrics_gzip_bytes"] = packed.num_bytes_downloaded
        figures["metrics_get_seconds"] = render_seconds(process)
        process.process.send_signal(signal.SIGTERM)
        process.process.wait(timeout=60)
    finally:
        process.stop()
    process = started(work / "settled", settings)
    try:
        figures["after_restart"] = window(
            process, parse_duration(args.restart_window), len(repositories)
        )
    finally:
        process.stop()
    return figures


def active_phase(registry: RegistryServer, repositories: list[str], args: Any, work: Path) -> dict:
    """Phase 2: publications archlag saw begin, young for stall_after: HEADed at every poll."""
    interval = parse_duration(args.interval)
    with Pusher(registry.url) as pusher:
        for repository in repositories:  # the images exist, no tag yet
            for platform in PLATFORMS:
                pusher.push_image(repository, platform, seed=repository)
    settings = config(registry, repositories, args, work / "active.db")
    process = started(work / "active", settings)
    try:
        wait_until(lambda: all_polled(process, len(repositories)), 600, "the first polls")
        fill(registry, repositories, tag_names(args.tags), args.push_workers)
        wait_until(
            lambda: all_complete(process, len(repositories), args.tags), 1800, "the tags seen"
        )
        time.sleep(interval)
        return window(process, args.cycles * interval, len(repositories))
    finally:
        process.stop()


def exposition_render_seconds(repositories: int, tags: int) -> float:
    """archlag's exposition rendering R x T baseline tags of two platforms, in this process."""
    from archlag.core.platforms import parse_platform  # noqa: PLC0415
    from archlag.core.publication import Content, apply_content, begin_expectations, settle  # noqa: PLC0415
    from archlag.core.snapshots import Snapshot  # noqa: PLC0415
    from archlag.metrics import Exposition  # noqa: PLC0415
    from archlag.polling.repository_state import RepositoryState  # noqa: PLC0415

    platforms = [parse_platform(p) for p in PLATFORMS]
    snapshots = []
    for r in range(repositories):
        repo = RepositoryState("127.0.0.1:5000", f"bench/app{r:04d}", (0.0, 60.0, 3600.0))
        for name in tag_names(tags):
            found = Content(f"sha256:{r}-{name}", {p: f"sha256:{p}-{r}" for p in platforms})
            repo.tags[name] = apply_content(None, name, found, 1_765_000_000.0).state
        begin_expectations(repo.tags, frozenset(platforms))
        for name in list(repo.tags):
            repo.tags[name] = settle(repo.tags[name], baseline_candidate=True)[0]
        repo.selected = tuple(repo.tags)
        snapshots.append(repo.snapshot(10.0, 1800.0))
    snapshot = Snapshot(tuple(snapshots))
    timings = []
    for _ in range(3):
        exposition = Exposition(lambda: snapshot)
        begun = time.perf_counter()
        exposition.prime()
        timings.append(time.perf_counter() - begun)
    return statistics.median(timings)


def report(args: Any, bare: dict[str, float], settled: dict, active: dict) -> None:
    tags = args.repositories * args.tags
    before, after = settled["before"], settled["after_restart"]
    quiet_poll = before["cpu_per_cycle"] / args.repositories
    lists = active["cycles"] * args.repositories
    check = (active["cpu"] - lists * quiet_poll) / active["heads"] if active["heads"] else None

    def against(value: float | None, name: str) -> str:
        if value is None:
            return "-"
        return (f"{value * 1000:.2f} ms ({value / bare[name + '_paced']:.2f}x the bare loop paced "
                f"as archlag polls, {value / bare[name]:.2f}x back to back)")  # fmt: skip

    rows: list[tuple[str, str]] = [
        ("bare httpx GET + parse of a tag list, CPU",
         f"{bare['get'] * 1000:.2f} ms back to back, "
         f"{bare['get_paced'] * 1000:.2f} ms paced as archlag polls"),
        ("bare httpx HEAD, CPU", f"{bare['head'] * 1000:.2f} ms back to back, "
         f"{bare['head_paced'] * 1000:.2f} ms paced"),
        ("archlag, no-change repository poll, CPU", against(quiet_poll, "get")),
        ("archlag, active tag check (HEAD), CPU", against(check, "head")),
        ("settled cycle: requests (GET + HEAD), CPU",
         f"{before['requests_per_cycle']:.0f} ({before['heads_per_cycle']:.0f} HEAD), "
         f"{before['cpu_per_cycle']:.2f} s per {args.interval}"),
        (f"first {args.restart_window} after a restart: requests per cycle",
         f"{after['requests_per_cycle']:.0f} ({after['heads_per_cycle']:.0f} HEAD), "
         f"{after['requests_per_cycle'] / before['requests_per_cycle']:.2f}x the cycle before"),
        ("active cycle: requests (HEAD), CPU",
         f"{active['requests_per_cycle']:.0f} ({active['heads_per_cycle']:.0f}), "
         f"{active['cpu_per_cycle']:.2f} s"),
        ("RSS after a full cycle", f"{settled['rss_mib']:.0f} MiB"),
        ("/metrics", f"{settled['metrics_bytes'] / 1e6:.1f} MB, "
         f"{settled['metrics_bytes'] / tags:.0f} bytes per tag "
         f"({settled['metrics_gzip_bytes'] / tags:.0f} sent to a scraper that accepts gzip, "
         "as Prometheus does), GET "
         f"{settled['metrics_get_seconds'] * 1000:.0f} ms"),
        ("exposition render of the whole snapshot (this process)",
         f"{exposition_render_seconds(args.repositories, args.tags) * 1000:.0f} ms"),
        ("first complete view after a cold start", f"{settled['first_view_seconds']:.0f} s"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"raw: settled {before}\n     restart {after}\n     active {active}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repositories", type=int, default=500)
    parser.add_argument("--tags", type=int, default=20)
    parser.add_argument("--interval", default="10s")
    parser.add_argument("--cycles", type=float, default=3.0, help="cycles per measured window")
    parser.add_argument("--restart-window", default="5m")
    parser.add_argument("--push-workers", type=int, default=8)
    args = parser.parse_args()
    settled_repos = [f"bench/app{i:04d}" for i in range(args.repositories)]
    active_repos = [f"active/app{i:04d}" for i in range(args.repositories)]
    print(
        f"repositories={args.repositories} tags_per_repository={args.tags} "
        f"tags={args.repositories * args.tags} interval={args.interval} cpus={os.cpu_count()} "
        f"load_average={os.getloadavg()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        registry = RegistryServer(work / "registry")
        registry.start()
        try:
            begun = time.monotonic()
            fill(registry, settled_repos, tag_names(args.tags), args.push_workers)
            print(f"pushed in {time.monotonic() - begun:.1f} s")
            lists = [[f"/v2/{r}/tags/list"] for r in settled_repos]
            heads = [[f"/v2/{r}/manifests/{t}" for t in tag_names(args.tags)]
                     for r in settled_repos]  # fmt: skip
            spacing = parse_duration(args.interval) / args.repositories  # as archlag spreads
            bare = {
                "get": bare_cost(registry, lists, "GET"),
                "head": bare_cost(registry, heads, "HEAD"),
                "get_paced": bare_cost(registry, lists, "GET", spacing),
                "head_paced": bare_cost(registry, heads, "HEAD", spacing),
            }
            settled = settled_phase(registry, settled_repos, args, work)
            active = active_phase(registry, active_repos, args, work)
            report(args, bare, settled, active)
        finally:
            registry.stop()
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
