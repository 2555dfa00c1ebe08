"""Benchmark: a flood of simultaneous ``GET /metrics`` from one client. Prints numbers; asserts
nothing.

Usage, from the repository root: python -m benchmarks.flood [CLIENTS ...] (default 1000 10000)

The real ``archlag`` polls a watch on the real Debian registry every 200 ms (debug log). For
each CLIENTS, another process opens CLIENTS connections at once from 127.0.0.2 (one client,
as an attacker on the same machine), each sending ``GET /metrics`` and reading the answer (at
most 30 s in all), while this process asks ``/-/healthy`` from 127.0.0.1 every 50 ms with a
1 s timeout. Printed: answers and connections shed or failed, the ``/-/healthy`` latency and
missed probes, and the longest gap between two polls during the flood. Each CLIENTS runs twice:
with the default bounds (``--web.max-connections 512``, ``--web.max-connections-per-client
64``) and with bounds too high to matter (100,000), which behaves as archlag did before them
(except for the listen backlog). Loopback only.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
from tests.support.archlag_process import ArchlagProcess
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

FLOOD_SECONDS = 30.0
REQUEST = b"GET /metrics HTTP/1.1\r\nHost: archlag\r\nConnection: close\r\n\r\n"
UNBOUNDED = ("--web.max-connections", "100000", "--web.max-connections-per-client", "100000")
_POLL = re.compile(r"^ts=(\S+) .*event=poll_done", re.MULTILINE)


async def one(port: int, results: dict[str, int]) -> None:
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, local_addr=("127.0.0.2", 0)
        )
    except OSError:
        results["connect_failed"] += 1
        return
    try:
        writer.write(REQUEST)
        await writer.drain()
        head = await reader.readline()
        await reader.read()
        results["answered" if head.startswith(b"HTTP/1.1 200") else "shed"] += 1
    except OSError:
        results["shed"] += 1
    finally:
        writer.close()


async def flood(port: int, clients: int) -> dict[str, int]:
    results = {"answered": 0, "shed": 0, "connect_failed": 0}
    tasks = [asyncio.ensure_future(one(port, results)) for _ in range(clients)]
    _, pending = await asyncio.wait(tasks, timeout=FLOOD_SECONDS)
    for task in pending:
        task.cancel()
    results["unfinished"] = len(pending)
    return results


def flood_process(port: int, clients: int, out: multiprocessing.Queue[dict[str, int]]) -> None:
    out.put(asyncio.run(flood(port, clients)))


def probes(url: str, stop: threading.Event) -> tuple[list[float], int]:
    """``/-/healthy`` round trips every 50 ms (1 s timeout) until ``stop``; and the misses."""
    found, missed = [], 0
    while not stop.is_set():
        started = time.perf_counter()
        try:
            httpx.get(f"{url}/-/healthy", timeout=1.0)
            found.append(time.perf_counter() - started)
        except httpx.HTTPError:
            missed += 1
        time.sleep(0.05)
    return found, missed


def poll_gap(log: str, since: float, until: float) -> float:
    """The longest gap between two successive polls around [since, until] (epoch seconds):
    from the last poll before it to the first after it."""
    times = sorted(
        datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() for t in _POLL.findall(log)
    )
    before = [t for t in times if t < since][-1:]
    after = [t for t in times if t > until][:1]
    inside = before + [t for t in times if since <= t <= until] + after
    return max((b - a for a, b in itertools.pairwise(inside)), default=float("nan"))


def run(registry: RegistryServer, workdir: Path, clients: int, bounded: bool) -> None:
    config = {
        "state_file": str(workdir / "state.db"),
        "registries": {registry.host: {"insecure": True}},
        "watches": [{"image": f"{registry.host}/demo/app", "interval": "200ms"}],
    }
    args = () if bounded else UNBOUNDED
    with ArchlagProcess(workdir, config, args) as archlag:
        time.sleep(1.0)
        stop = threading.Event()
        measured: list[tuple[list[float], int]] = []
        prober = threading.Thread(target=lambda: measured.append(probes(archlag.url, stop)))
        out: multiprocessing.Queue[dict[str, int]] = multiprocessing.Queue()
        crowd = multiprocessing.Process(target=flood_process, args=(archlag.port, clients, out))
        started = time.time()
        prober.start()
        crowd.start()
        results = out.get(timeout=FLOOD_SECONDS + 30)
        crowd.join(timeout=10)
        ended = time.time()
        time.sleep(1.0)  # a poll after the flood closes the last gap
        stop.set()
        prober.join(timeout=10)
        log = archlag.log_path.read_text(encoding="utf-8", errors="replace")
    latencies, missed = measured[0]
    ordered = sorted(latencies) or [float("nan")]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"clients={clients} bounds={'default' if bounded else 'off'} "
        f"flood_seconds={ended - started:.1f} {' '.join(f'{k}={v}' for k, v in results.items())} "
        f"healthy_median={statistics.median(ordered) * 1000:.1f}ms "
        f"healthy_p99={p99 * 1000:.1f}ms healthy_max={ordered[-1] * 1000:.1f}ms "
        f"healthy_missed_1s={missed}/{missed + len(latencies)} "
        f"longest_poll_gap={poll_gap(log, started, ended):.2f}s",
        flush=True,
    )


def main(argv: list[str]) -> None:
    counts = [int(a) for a in argv] or [1000, 10000]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        registry = RegistryServer(workdir / "registry")
        registry.start()
        try:
            with Pusher(registry.url) as pusher:
                images = [pusher.push_image("demo/app", p) for p in ("linux/amd64", "linux/arm64")]
                pusher.push_index("demo/app", "1.0", images)
            for clients in counts:
                for bounded in (True, False):
                    run_dir = workdir / f"{clients}-{bounded}"
                    run_dir.mkdir()
                    run(registry, run_dir, clients, bounded)
        finally:
            registry.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
