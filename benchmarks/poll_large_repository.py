"""Benchmark: polls of one repository that lists many tags (default 100,000), limit 20.

Prints numbers; asserts nothing. The registry is in memory, so this measures archlag's own work
per poll (filtering, ranking, checks, the store transaction), not the network.
Usage: python benchmarks/poll_large_repository.py [TAGS] [POLLS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

from archlag.config import TagFilter, Watch, WatchSettings
from archlag.core.platforms import parse_platform
from archlag.core.publication import Content
from archlag.core.references import parse_reference
from archlag.polling.poller import WatchPoller
from archlag.polling.repository_state import restore
from archlag.store import SQLiteStore

PLATFORMS = [parse_platform(p) for p in ("linux/amd64", "linux/arm64")]


class MemoryRegistry:
    def __init__(self, tags: int) -> None:
        self.tags = [f"{i // 1000}.{i % 1000}.0" for i in range(tags)]
        self.requests = 0

    async def list_tags(self, repository: str) -> list[str]:
        return list(self.tags)

    async def head_digest(self, repository: str, tag: str) -> str | None:
        self.requests += 1
        return f"sha256:{tag}"

    async def fetch(
        self, repository: str, tag: str, digest: str | None, *, with_created: bool = False
    ) -> Content:
        self.requests += 1
        return Content(f"sha256:{tag}", {p: f"sha256:{tag}-{p}" for p in PLATFORMS})

    def slowdown(self) -> float:
        return 1.0

    async def push_times(self, repository: str) -> dict[str, float]:
        return {}


async def main(tags: int, polls: int) -> None:
    registry = MemoryRegistry(tags)
    watch = Watch(
        parse_reference("registry.example/big/repo"),
        WatchSettings(platforms=frozenset(PLATFORMS), tags=TagFilter(limit=20)),
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(str(Path(tmp) / "state.db"))
        state = restore(
            store.load(watch.registry, watch.repository),
            watch.registry,
            watch.repository,
            buckets=(0.0, 60.0),
            platforms=watch.settings.platforms,
            matches=watch.settings.tags.matches,
            limit=20,
        )
        poller = WatchPoller(watch, registry, store, state)
        timings, churn = [], []
        for _ in range(polls):
            started = time.perf_counter()
            await poller.poll()
            timings.append(time.perf_counter() - started)
        for round_ in range(polls):  # a new tag in every listing
            registry.tags.append(f"999.{round_}.0")
            started = time.perf_counter()
            await poller.poll()
            churn.append(time.perf_counter() - started)
        store.close()
    print(
        f"listed_tags={tags} selected={len(state.selected)} polls={polls} "
        f"requests={registry.requests}"
    )
    print(f"first_poll_seconds={timings[0]:.3f}")
    later = timings[1:] or timings
    print(
        f"later_poll_seconds min={min(later):.3f} median={statistics.median(later):.3f} "
        f"max={max(later):.3f}"
    )
    print(
        f"poll_with_a_new_tag_seconds min={min(churn):.3f} "
        f"median={statistics.median(churn):.3f} max={max(churn):.3f}"
    )


if __name__ == "__main__":
    tags = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    polls = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    anyio.run(main, tags, polls)
