"""Benchmark: detection latency (push to changed metric) with push events and with polling only,
and registry requests per hour per watch for each setup.

Runs the real Debian docker-registry with notifications to one archlag (events, polling every
10 minutes) and a second archlag that only polls (every --interval, default archlag's 1m), both
watching the same repository. Each round waits a random part of the interval (so that pushes
fall anywhere between two polls), pushes a tag with amd64, then adds arm64 5 s later; for each
push it measures how long until each archlag's /metrics shows the platform. Requests are counted
from archlag_registry_requests_total: per poll of the polling exporter, per push for the events
one, and from those per hour for a watch polled every minute, or every 10 minutes with events
and one release (two pushes) an hour. Prints numbers; asserts nothing.

Usage: python benchmarks/events_latency.py [--rounds 3] [--interval 1m]
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import running_registry  # noqa: E402
from tests.end_to_end.test_registry_notifications import notifications  # noqa: E402
from tests.support.archlag_process import ArchlagProcess, Scrape, free_port  # noqa: E402
from tests.support.pusher import Pusher  # noqa: E402

from archlag.core.durations import parse_duration  # noqa: E402

REPO = "bench/app"
HOOK_TOKEN = secrets.token_hex(16)  # loopback only, a new one each run


def seen(scrape: Scrape, host: str, tag: str, platform: str) -> bool:
    return (
        scrape.value(
            "archlag_tag_platform_available",
            registry=host,
            repository=REPO,
            tag=tag,
            platform=platform,
        )
        == 1
    )


def requests(scrape: Scrape, host: str) -> float:
    return sum(scrape.series("archlag_registry_requests_total", registry=host).values())


def detect(
    exporters: dict[str, ArchlagProcess], host: str, tag: str, platform: str, *, pushed: float
) -> dict[str, float]:
    """Seconds from ``pushed`` until each exporter shows the platform (at most 5 minutes)."""
    limit = 300.0
    found: dict[str, float] = {}
    while len(found) < len(exporters) and time.time() - pushed < limit:
        for name, exporter in exporters.items():
            if name not in found and seen(exporter.scrape(), host, tag, platform):
                found[name] = time.time() - pushed
        time.sleep(0.05)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interval", default="1m")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work, port = Path(tmp), free_port()
        (work / "secret").write_text(HOOK_TOKEN)
        extra = {"notifications": notifications(port, HOOK_TOKEN)}
        with (
            running_registry(work / "registry", extra_config=extra) as registry,
            Pusher(registry.url) as pusher,
        ):
            pusher.push_index(REPO, "0.1", [pusher.push_image(REPO, "linux/amd64", seed="0.1")])
            exporters = {"events": _exporter(work, registry.host, port, "10m", True),
                         "polling": _exporter(work, registry.host, free_port(), args.interval,
                                              False)}  # fmt: skip
            for exporter in exporters.values():
                exporter.start()
            try:
                _run(exporters, pusher, registry.host, args)
            finally:
                for exporter in exporters.values():
                    exporter.stop()


def _exporter(work: Path, host: str, port: int, interval: str, events: bool) -> ArchlagProcess:
    directory = work / ("events" if events else "polling")
    directory.mkdir()
    config: dict[str, object] = {
        "state_file": str(directory / "state.db"),
        "defaults": {"interval": interval, "platforms": ["linux/amd64", "linux/arm64"]},
        "registries": {host: {"insecure": True}},
        "watches": [{"image": f"{host}/{REPO}"}],
    }
    if events:
        config["receivers"] = [{"name": "local", "type": "distribution", "registry": host,
                                "secret_file": str(work / "secret")}]  # fmt: skip
    exporter = ArchlagProcess(directory, config)
    exporter.port, exporter.url = port, f"http://127.0.0.1:{port}"
    return exporter


def _run(
    exporters: dict[str, ArchlagProcess], pusher: Pusher, host: str, args: argparse.Namespace
) -> None:
    latencies: dict[str, list[float]] = {name: [] for name in exporters}
    started = time.time()
    first = {name: requests(e.scrape(), host) for name, e in exporters.items()}
    interval = parse_duration(args.interval)
    for round_ in range(args.rounds):
        time.sleep(random.uniform(0, interval))  # noqa: S311 - spreading pushes, not security
        tag = f"1.{round_}"
        amd = pusher.push_image(REPO, "linux/amd64", seed=tag)
        for platforms, pause in (
            ([amd], 5.0),
            ([amd, pusher.push_image(REPO, "linux/arm64", seed=tag)], 0.0),
        ):
            pushed = time.time()
            pusher.push_index(REPO, tag, platforms)
            platform = "linux/amd64" if len(platforms) == 1 else "linux/arm64"
            for name, seconds in detect(exporters, host, tag, platform, pushed=pushed).items():
                latencies[name].append(seconds)
            time.sleep(pause)
    elapsed = time.time() - started
    spent = {name: requests(e.scrape(), host) - first[name] for name, e in exporters.items()}
    for name, values in latencies.items():
        median = statistics.median(values)
        print(f"{name}: pushes={len(values)} detection_seconds median={median:.3f} "
              f"max={max(values):.3f}")  # fmt: skip
    polls = elapsed / interval
    per_poll = spent["polling"] / polls
    # The events exporter polled elapsed/600 times on its own; the rest of its requests are
    # the checks the pushes caused.
    per_push = (
        max(spent["events"] - per_poll * elapsed / 600, 0) / sum(map(len, latencies.values())) * 2
    )
    print(f"requests_per_poll={per_poll:.1f} requests_per_push_with_events={per_push:.1f}")
    print(f"requests_per_hour_polling_every_{args.interval}={per_poll * 3600 / interval:.0f}")
    print(f"requests_per_hour_with_events_polling_every_10m={per_poll * 6 + per_push * 2:.0f}")


if __name__ == "__main__":
    main()
