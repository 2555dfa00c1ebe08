"""Benchmark: archlag's latency and memory under attack. Prints numbers; asserts nothing.

Usage, from the repository root: python -m benchmarks.reliability [healthy|catalog] ...

- ``healthy [TAGS] [CLIENTS] [SECONDS]`` (default 10000 100 20): a state of TAGS tags x 4
  platforms (100 per repository) is written through archlag's store; the real ``archlag``
  serves it while CLIENTS threads of another process scrape ``/metrics`` as fast as they can for
  SECONDS, and ``/-/healthy`` is asked every 50 ms. Prints the ``/metrics`` size, the
  ``/-/healthy`` latency (median, p99, max), scrapes served, and archlag's peak memory (VmHWM).
  Then the same number of clients that ask for ``/metrics`` and never read it: ``/-/healthy``
  latency and memory growth.
- ``catalog [SECONDS]`` (default 60): the attack catalog of tests/support/reliability/ against
  one archlag for SECONDS (and until every case's outcome held); prints how many held, the
  ``/-/healthy`` latency meanwhile, archlag's peak memory (VmHWM) and its memory now (VmRSS).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from tests.reliability.test_memory import memory, prefill_state
from tests.support.archlag_process import ArchlagProcess
from tests.support.reliability.outcomes import outcome
from tests.support.reliability.outcomes import registry_outcome as registry_outcome_of
from tests.support.reliability.registry_attacks import REGISTRY_ATTACKS
from tests.support.reliability.repository_attacks import ATTACKS
from tests.support.reliability.suite import arm_all, prepare

MIB = 1 << 20


def latencies(url: str, stop: threading.Event) -> list[float]:
    """``/-/healthy`` round trips, one every 50 ms until ``stop``."""
    found = []
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(f"{url}/-/healthy")
            found.append(time.perf_counter() - started)
            time.sleep(0.05)
    return found


def summary(name: str, timings: list[float]) -> str:
    ordered = sorted(timings)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{name} median={statistics.median(ordered) * 1000:.1f}ms p99={p99 * 1000:.1f}ms "
        f"max={ordered[-1] * 1000:.1f}ms samples={len(ordered)}"
    )


def scrapers(url: str, clients: int, stop: threading.Event) -> list[int]:
    """``clients`` threads scraping /metrics whole until ``stop``; how many each served."""
    served = [0] * clients

    def scrape(index: int) -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                client.get(f"{url}/metrics").raise_for_status()
                served[index] += 1

    threads = [threading.Thread(target=scrape, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(timeout=120)
    return served


def crowd_process(
    url: str, clients: int, seconds: float, served: multiprocessing.Queue[int]
) -> None:
    """In a process of its own: ``clients`` scrapers for ``seconds``; puts how many were served."""
    stop = threading.Event()
    threading.Timer(seconds, stop.set).start()
    served.put(sum(scrapers(url, clients, stop)))


def healthy(tags: int, clients: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        config = prefill_state(workdir / "state.db", max(tags // 100, 1), min(tags, 100))
        with ArchlagProcess(workdir, config) as archlag:
            assert archlag.process is not None
            pid = archlag.process.pid
            size = len(httpx.get(f"{archlag.url}/metrics", timeout=60).content)
            print(f"tags={tags} platforms_per_tag=4 metrics_bytes={size} clients={clients}")
            idle = threading.Event()
            threading.Timer(5, idle.set).start()
            print(summary("healthy_idle", latencies(archlag.url, idle)))
            # The crowd scrapes from another process: in this one, 100 threads reading 20 MB
            # each would hold the GIL and delay the /-/healthy prober, not archlag.
            served: multiprocessing.Queue[int] = multiprocessing.Queue()
            crowd = multiprocessing.Process(
                target=crowd_process, args=(archlag.url, clients, seconds, served)
            )
            crowd.start()
            stop = threading.Event()
            threading.Timer(seconds, stop.set).start()
            print(summary("healthy_while_scraped", latencies(archlag.url, stop)))
            total = served.get(timeout=180)
            crowd.join(timeout=10)
            print(f"scrapes_served={total} in {seconds:.0f}s")
            print(f"peak_rss_mib={memory(pid, 'VmHWM') / MIB:.0f}")
            never_reading(archlag, clients, seconds)


def never_reading(archlag: ArchlagProcess, clients: int, seconds: float) -> None:
    """Clients that ask for /metrics and never read it (shown by a test_bug_* test)."""
    assert archlag.process is not None
    pid = archlag.process.pid
    before = memory(pid, "VmRSS")
    with contextlib.ExitStack() as stack:
        for _ in range(clients):
            client = stack.enter_context(socket.socket())
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.connect(("127.0.0.1", archlag.port))
            client.sendall(b"GET /metrics HTTP/1.1\r\nHost: archlag\r\n\r\n")
        stop = threading.Event()
        threading.Timer(min(seconds, 10), stop.set).start()
        print(summary("healthy_while_never_read", latencies(archlag.url, stop)))
        grown = memory(pid, "VmRSS") - before
    print(f"never_reading_clients={clients} rss_growth_mib={grown / MIB:.0f}")


def catalog(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        suite = prepare(stack, Path(tmp))
        suite.archlag.start()
        assert suite.archlag.process is not None
        pid = suite.archlag.process.pid
        started = time.monotonic()
        arm_all(suite)
        stop = threading.Event()
        measured: list[float] = []
        timer = threading.Thread(target=lambda: measured.extend(latencies(suite.archlag.url, stop)))
        timer.start()
        conditions = {a.name: outcome(suite, a) for a in ATTACKS}
        conditions |= {a.name: registry_outcome_of(suite, a) for a in REGISTRY_ATTACKS}
        settled = suite.settle(conditions)
        left = seconds - (time.monotonic() - started)
        if left > 0:
            time.sleep(left)  # the attacks go on: memory under a long attack, not a short one
        stop.set()
        timer.join()
        held = sum(scrape is not None for scrape in settled.values())
        print(f"attacks={len(conditions)} outcomes_held={held} seconds={seconds:.0f}")
        print(summary("healthy_under_attack", measured))
        print(f"peak_rss_mib={memory(pid, 'VmHWM') / MIB:.0f}")
        print(f"rss_now_mib={memory(pid, 'VmRSS') / MIB:.0f}")


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "both"
    numbers = [float(a) for a in sys.argv[2:]]
    if which in ("healthy", "both"):
        defaults = [10_000.0, 100.0, 20.0]
        tags, clients, seconds = numbers[:3] + defaults[len(numbers[:3]) :]
        healthy(int(tags), int(clients), seconds)
    if which in ("catalog", "both"):
        catalog(numbers[0] if numbers and which == "catalog" else 60.0)


if __name__ == "__main__":
    main()
