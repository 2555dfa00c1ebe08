"""Benchmark: archlag at scale (default 500 repositories, 10,000 tags) with 1, 2 and 4 shards.

Runs the real Debian docker-registry on loopback and fills it with --repositories repositories
of --tags-per-repository tags each; every tag is a 2-platform OCI index (linux/amd64,
linux/arm64). The two image manifests and their blobs are pushed once per repository; each tag
is then one manifest PUT of an index that points at them (the index carries the tag in an
annotation, so every tag has its own digest, as real releases do).

For each shard count N it starts N archlag processes (``--shard i --total-shards N``, each with
its own fresh state file and port) and measures per shard:

- first_view: seconds from starting the process until /api/v1/watches shows every repository of
  the shard with all its tags and none incomplete (also when /-/ready first answered 200; the
  ready timeout is raised to 1h so that ready means "first polls done");
- RSS (VmRSS) right after the first complete view and at the end;
- CPU seconds (utime+stime) per poll cycle after the first: CPU over a window of at least
  --window-intervals intervals (longer, up to --max-window-intervals, until every repository
  was polled again), divided by the cycles done in it, counted from each
  repository's last_poll_success in /api/v1/watches (archlag has no poll counter);
- registry requests per cycle (delta of archlag_registry_requests_total over the same window);
- /metrics body size and the median time of 5 GETs of /metrics.

Prints numbers; asserts nothing. Every wait is bounded; all processes are stopped at the end.

Usage: python benchmarks/shards_scale.py [--repositories 500] [--tags-per-repository 20]
           [--shards 1,2,4] [--interval 30s] [--window-intervals 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from tests.support.archlag_process import ArchlagProcess  # noqa: E402
from tests.support.pusher import Pusher  # noqa: E402
from tests.support.registry_server import RegistryServer  # noqa: E402

from archlag.core.durations import parse_duration  # noqa: E402
from archlag.core.sharding import shard_of  # noqa: E402

PLATFORMS = ["linux/amd64", "linux/arm64"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def repository_names(count: int) -> list[str]:
    return [f"bench/app{i:04d}" for i in range(count)]


def tag_names(count: int) -> list[str]:
    return [f"1.{i}.0" for i in range(count)]


def fill(registry: RegistryServer, repositories: list[str], tags: list[str], workers: int) -> None:
    def push(chunk: list[str]) -> None:
        with Pusher(registry.url) as pusher:
            for repository in chunk:
                images = [pusher.push_image(repository, p, seed=repository) for p in PLATFORMS]
                for tag in tags:
                    pusher.push_index(
                        repository, tag, images,
                        annotations={"org.opencontainers.image.version": tag},
                    )  # fmt: skip

    chunks = [repositories[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(push, chunk) for chunk in chunks if chunk]:
            future.result()


def cpu_seconds(pid: int) -> float:
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def watches(process: ArchlagProcess) -> list[dict[str, Any]]:
    response = httpx.get(f"{process.url}/api/v1/watches", timeout=30)
    response.raise_for_status()
    return list(response.json()["watches"])


def complete_view(found: list[dict[str, Any]], repositories: int, tags: int) -> bool:
    return len(found) == repositories and all(
        w["tags"] == tags and w["incomplete_tags"] == 0 for w in found
    )


def ready(process: ArchlagProcess) -> bool:
    try:
        return httpx.get(f"{process.url}/-/ready", timeout=10).status_code == 200
    except httpx.TransportError:
        return False


def metrics_body(process: ArchlagProcess) -> bytes:
    response = httpx.get(f"{process.url}/metrics", timeout=60)
    response.raise_for_status()
    return response.content


def sample_sum(body: bytes, name: str, label: str = "result") -> dict[str, float]:
    """Values of ``name`` summed by their ``label`` label (or "" without one); plain text
    scanning, so that the benchmark's own parsing does not compete with archlag for CPU."""
    prefix = name.encode() + b"{"
    sums: dict[str, float] = {}
    for line in body.splitlines():
        if line.startswith(prefix):
            labels, _, value = line.rpartition(b" ")
            result = ""
            marker = f'{label}="'.encode()
            if marker in labels:
                result = labels.split(marker, 1)[1].split(b'"', 1)[0].decode()
            sums[result] = sums.get(result, 0.0) + float(value)
    return sums


def count_series(body: bytes, name: str, value: float | None = None) -> int:
    prefix = name.encode() + b"{"
    return sum(
        1
        for line in body.splitlines()
        if line.startswith(prefix) and (value is None or float(line.rpartition(b" ")[2]) == value)
    )


class Shard:
    def __init__(self, ordinal: int, total: int, work: Path, config: dict[str, Any]) -> None:
        self.ordinal = ordinal
        work.mkdir(parents=True)
        config = {**config, "state_file": str(work / "state.db")}
        args = ("--shard", str(ordinal), "--total-shards", str(total),
                "--web.ready-timeout", "1h", "--log.level", "info")  # fmt: skip
        self.process = ArchlagProcess(work, config, args)
        self.repositories = 0
        self.started = 0.0
        self.first_view: float | None = None
        self.ready_after: float | None = None
        self.rss_first: float | None = None
        self.figures: dict[str, Any] = {}

    @property
    def pid(self) -> int:
        assert self.process.process is not None
        return self.process.process.pid


def run_shards(
    total: int,
    registry: RegistryServer,
    args: Any,
    work: Path,
    *,
    repositories: list[str],
    tags: int,
) -> list[Shard]:
    """Start ``total`` shards over every repository, measure them, stop them."""
    config = {
        "defaults": {"interval": args.interval, "platforms": PLATFORMS,
                     "tags": {"limit": max(tags, 20)}},
        "registries": {registry.host: {"insecure": True}},
        "watches": [{"image": f"{registry.host}/{r}"} for r in repositories],
    }  # fmt: skip
    shards = [Shard(i, total, work / f"shards{total}-{i}", config) for i in range(total)]
    for repository in repositories:
        shards[shard_of(registry.host, repository, total)].repositories += 1
    try:
        for shard in shards:
            shard.started = time.monotonic()
            shard.process.start(timeout=60)
        wait_first_views(shards, args, tags)
        measure_steady_state(shards, parse_duration(args.interval), args)
    finally:
        for shard in shards:
            shard.process.stop()
    return shards


def wait_first_views(shards: list[Shard], args: Any, tags: int) -> None:
    """Until every shard shows all its tags complete (bounded by --startup-timeout)."""
    deadline = time.monotonic() + args.startup_timeout
    while time.monotonic() < deadline and any(s.first_view is None for s in shards):
        for shard in shards:
            if shard.ready_after is None and ready(shard.process):
                shard.ready_after = time.monotonic() - shard.started
            if shard.first_view is None:
                try:
                    found = watches(shard.process)
                except httpx.HTTPError:
                    continue
                if complete_view(found, shard.repositories, tags):
                    shard.first_view = time.monotonic() - shard.started
                    shard.rss_first = rss_mib(shard.pid)
        time.sleep(1.0)
    for shard in shards:  # ready may lag the view by a moment
        limit = time.monotonic() + 10
        while shard.ready_after is None and time.monotonic() < limit:
            if ready(shard.process):
                shard.ready_after = time.monotonic() - shard.started
            time.sleep(0.2)


def measure_steady_state(shards: list[Shard], interval: float, args: Any) -> None:
    """CPU, polls and requests over a window of whole intervals; /metrics size and time."""
    seen: list[dict[str, set[float]]] = []
    before = []
    for shard in shards:
        body = metrics_body(shard.process)
        before.append((
            cpu_seconds(shard.pid),
            sample_sum(body, "archlag_registry_requests_total"),
            sample_sum(body, "archlag_registry_requests_total", "method"),
        ))  # fmt: skip
        seen.append({w["repository"]: {w["last_poll_success"]} for w in watches(shard.process)})
    # At least --window-intervals intervals, longer (up to --max-window-intervals) until every
    # repository was polled again: a cycle may take longer than the interval.
    window_start = time.monotonic()
    while True:
        time.sleep(min(2.0, interval / 4))
        for shard, polls in zip(shards, seen, strict=True):
            for w in watches(shard.process):
                polls.setdefault(w["repository"], set()).add(w["last_poll_success"])
        spent = time.monotonic() - window_start
        repolled = all(len(v) > 1 for polls in seen for v in polls.values())
        if spent >= args.max_window_intervals * interval or (
            spent >= args.window_intervals * interval and repolled
        ):
            break
    elapsed = time.monotonic() - window_start
    for shard, polls, start in zip(shards, seen, before, strict=True):
        shard.figures = shard_figures(shard, polls, start, elapsed)


def shard_figures(
    shard: Shard,
    polls: dict[str, set[float]],
    start: tuple[float, dict[str, float], dict[str, float]],
    elapsed: float,
) -> dict[str, Any]:
    cpu0, r0, m0 = start
    cpu = cpu_seconds(shard.pid) - cpu0
    body = metrics_body(shard.process)
    r1 = sample_sum(body, "archlag_registry_requests_total")
    requests = {k: r1.get(k, 0.0) - r0.get(k, 0.0) for k in r1}
    m1 = sample_sum(body, "archlag_registry_requests_total", "method")
    methods = {k: m1.get(k, 0.0) - m0.get(k, 0.0) for k in m1}
    repo_polls = sum(len(values) - 1 for values in polls.values())
    cycles = repo_polls / shard.repositories if shard.repositories else 0.0
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        size = len(metrics_body(shard.process))
        timings.append(time.perf_counter() - started)
    return {
        "window": elapsed,
        "cpu": cpu,
        "cycles": cycles,
        "cpu_per_cycle": cpu / cycles if cycles else None,
        "requests": sum(requests.values()),
        "requests_not_ok": {k: v for k, v in requests.items() if k != "ok" and v},
        "requests_per_cycle": sum(requests.values()) / cycles if cycles else None,
        "methods_per_cycle": {k: round(v / cycles, 1) for k, v in methods.items() if v and cycles},
        "metrics_bytes": size,
        "metrics_seconds": statistics.median(timings),
        "complete_series": count_series(body, "archlag_tag_complete", 1.0),
        "tag_series": count_series(body, "archlag_tag_complete"),
        "poll_errors": sum(sample_sum(body, "archlag_repository_poll_errors").values()),
        "rss_end": rss_mib(shard.pid),
        "log_warnings": sum(
            1 for line in shard.process.log_tail(10**6).splitlines()
            if "level=warning" in line or "level=error" in line
        ),
    }  # fmt: skip


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report(total: int, shards: list[Shard], tags: int) -> None:
    print(f"\n== {total} shard(s) == load average {os.getloadavg()}")
    header = (
        f"{'shard':>5} {'repos':>5} {'tags':>6} {'view_s':>7} {'ready_s':>7} {'rss_MiB':>7} "
        f"{'rss_end':>7} {'cycles':>6} {'cpu_s/cyc':>9} {'req/cyc':>8} {'metrics_B':>10} "
        f"{'GET_ms':>7} {'complete':>8} {'errors':>6}"
    )
    print(header)
    for s in shards:
        f = s.figures
        print(
            f"{s.ordinal:>5} {s.repositories:>5} {s.repositories * tags:>6} "
            f"{fmt(s.first_view, '7.1f')} {fmt(s.ready_after, '7.1f')} "
            f"{fmt(s.rss_first, '7.1f')} {fmt(f.get('rss_end'), '7.1f')} "
            f"{fmt(f.get('cycles'), '6.2f')} {fmt(f.get('cpu_per_cycle'), '9.3f')} "
            f"{fmt(f.get('requests_per_cycle'), '8.1f')} {f.get('metrics_bytes', 0):>10} "
            f"{fmt(f.get('metrics_seconds', 0) * 1000, '7.1f')} "
            f"{f.get('complete_series', 0):>8} {fmt(f.get('poll_errors'), '6.0f')}"
        )
        print(f"      window {fmt(f.get('window'), '.1f')} s, CPU {fmt(f.get('cpu'), '.2f')} s, "
              f"requests per cycle by method {f.get('methods_per_cycle')}, "
              f"tag series {f.get('tag_series')}")  # fmt: skip
        if f.get("requests_not_ok") or f.get("log_warnings"):
            print(f"      not-ok requests {f.get('requests_not_ok')}, "
                  f"warning/error log lines {f.get('log_warnings')}")  # fmt: skip
    views = [s.first_view for s in shards]
    print(
        f"total: first complete view of all shards "
        f"{fmt(max(views) if None not in views else None, '.1f')} s; "  # type: ignore[type-var]
        f"RSS {sum(s.rss_first or 0 for s in shards):.1f} MiB; "
        f"CPU per cycle {sum(s.figures.get('cpu_per_cycle') or 0 for s in shards):.3f} s; "
        f"requests per cycle {sum(s.figures.get('requests_per_cycle') or 0 for s in shards):.1f}; "
        f"/metrics bytes {sum(s.figures.get('metrics_bytes', 0) for s in shards)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repositories", type=int, default=500)
    parser.add_argument("--tags-per-repository", type=int, default=20)
    parser.add_argument("--shards", default="1,2,4")
    parser.add_argument("--interval", default="30s")
    parser.add_argument("--window-intervals", type=float, default=2.0)
    parser.add_argument("--max-window-intervals", type=float, default=8.0)
    parser.add_argument("--startup-timeout", type=float, default=900.0)
    parser.add_argument("--push-workers", type=int, default=8)
    args = parser.parse_args()
    repositories = repository_names(args.repositories)
    tags = tag_names(args.tags_per_repository)
    print(
        f"repositories={len(repositories)} tags_per_repository={len(tags)} "
        f"tags={len(repositories) * len(tags)} interval={args.interval} "
        f"cpus={os.cpu_count()} load_average={os.getloadavg()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        registry = RegistryServer(work / "registry")
        registry.start()
        try:
            started = time.monotonic()
            fill(registry, repositories, tags, args.push_workers)
            print(f"pushed in {time.monotonic() - started:.1f} s")
            for total in [int(n) for n in args.shards.split(",")]:
                shards = run_shards(
                    total, registry, args, work, repositories=repositories, tags=len(tags)
                )
                report(total, shards, len(tags))
        finally:
            registry.stop()
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
