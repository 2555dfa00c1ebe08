"""The poller against an in-memory registry (a fake TagSource) and a real SQLite store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from archlag.config import TagFilter, Watch, WatchSettings
from archlag.model import Content
from archlag.platforms import Platform, parse_platform
from archlag.poller import WatchPoller
from archlag.reference import parse_reference
from archlag.registry import NotFoundError, RegistryConnectionError
from archlag.state import Snapshot, restore
from archlag.store import SQLiteStore

AMD, ARM, V7 = (parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7"))
BUCKETS = (0.0, 30.0, 60.0, 300.0, 1800.0)


@dataclass
class FakeRegistry:
    """Tags of one repository: tag -> platform -> manifest digest. Counts requests."""

    tags: dict[str, dict[Platform, str]] = field(default_factory=dict)
    down: bool = False
    heads: int = 0
    gets: int = 0

    def publish(self, tag: str, *platforms: Platform, build: str = "1") -> None:
        self.tags[tag] = {p: f"sha256:{tag}-{p}-{build}".replace("/", "_") for p in platforms}

    def _digest(self, tag: str) -> str:
        return "sha256:" + "+".join(sorted(self.tags[tag].values()))

    async def list_tags(self, repository: str) -> list[str]:
        if self.down:
            raise RegistryConnectionError("connection refused", registry="127.0.0.1:5000")
        return list(self.tags)

    async def head_digest(self, repository: str, tag: str) -> str | None:
        self.heads += 1
        if self.down:
            raise RegistryConnectionError("connection refused", registry="127.0.0.1:5000")
        if tag not in self.tags:
            raise NotFoundError("manifest unknown", registry="127.0.0.1:5000")
        return self._digest(tag)

    async def fetch(self, repository: str, reference: str) -> Content:
        self.gets += 1
        tag = next(t for t in self.tags if reference in (t, self._digest(t)))
        return Content(self._digest(tag), dict(self.tags[tag]))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_poller(store, source, clock, **settings) -> WatchPoller:
    watch = Watch(parse_reference("127.0.0.1:5000/demo/app"), WatchSettings(**settings))
    record = store.load(watch.registry, watch.repository)
    state = restore(
        record,
        watch.registry,
        watch.repository,
        buckets=BUCKETS,
        platforms=watch.settings.platforms,
        matches=watch.settings.tags.matches,
        limit=watch.settings.tags.limit,
    )
    return WatchPoller(watch, source, store, state, clock=clock)


def snapshot(poller: WatchPoller):
    return poller.state.snapshot(poller.watch.settings.interval, poller.watch.settings.stall_after)


def available(poller: WatchPoller, tag: str) -> dict[str, int]:
    view = next(v for v in snapshot(poller).tags if v.state.tag == tag)
    platforms = view.expected | view.state.publication.platforms.keys()
    states = view.state.publication.platforms
    return {str(p): int(p in states and states[p].present) for p in platforms}


@pytest.fixture
def store(tmp_path: Path):
    store = SQLiteStore(str(tmp_path / "state.db"))
    yield store
    store.close()


@pytest.mark.anyio
async def test_staggered_release_gives_one_spread_observation(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    registry.publish("2.6.0", AMD, ARM)
    poller = make_poller(store, registry, clock, platforms=frozenset({AMD, ARM}))
    await poller.poll()
    assert snapshot(poller).spread.count == 0, "a tag complete at the first poll is a baseline"

    registry.publish("2.6.1", AMD)
    clock.now += 60
    await poller.poll()
    assert available(poller, "2.6.1") == {"linux/amd64": 1, "linux/arm64": 0}
    clock.now += 1200
    registry.publish("2.6.1", AMD, ARM)
    await poller.poll()
    clock.now += 60
    await poller.poll()
    snap = snapshot(poller)
    assert snap.spread.count == 1
    assert snap.spread.total == 1200
    assert snap.delays[ARM].total == 1200
    assert snap.delays[AMD].total == 0
    assert available(poller, "2.6.1") == {"linux/amd64": 1, "linux/arm64": 1}


@pytest.mark.anyio
async def test_registry_down_keeps_state_and_marks_failure(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    registry.publish("1.0", AMD, ARM)
    poller = make_poller(store, registry, clock)
    await poller.poll()
    registry.down = True
    clock.now += 60
    await poller.poll()
    snap = snapshot(poller)
    assert Snapshot((snap,)).registries_up() == {"127.0.0.1:5000": False}
    assert available(poller, "1.0") == {"linux/amd64": 1, "linux/arm64": 1}
    assert snap.last_poll_success == 1_000_000.0
    assert snap.poll_errors == 1
    registry.down = False
    clock.now += 60
    await poller.poll()
    assert Snapshot((snapshot(poller),)).registries_up() == {"127.0.0.1:5000": True}


@pytest.mark.anyio
async def test_restart_keeps_first_seen_and_histograms(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    registry.publish("1.0", AMD, ARM)
    poller = make_poller(store, registry, clock, platforms=frozenset({AMD, ARM}))
    await poller.poll()
    registry.publish("1.1", AMD)
    clock.now += 10
    await poller.poll()
    registry.publish("1.1", AMD, ARM)
    clock.now += 90
    await poller.poll()
    before = snapshot(poller)

    restarted = make_poller(store, registry, clock, platforms=frozenset({AMD, ARM}))
    clock.now += 10
    await restarted.poll()
    after = snapshot(restarted)
    assert after.spread == before.spread
    assert after.spread.count == 1
    old = next(v.state for v in before.tags if v.state.tag == "1.1")
    new = next(v.state for v in after.tags if v.state.tag == "1.1")
    assert new.publication == old.publication


@pytest.mark.anyio
async def test_regression_is_counted_and_shown(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    registry.publish("1.0", AMD, ARM)
    poller = make_poller(store, registry, clock)
    await poller.poll()
    registry.publish("1.0", AMD)  # same amd64 digest: arm64 vanished from the publication
    clock.now += 60
    await poller.poll()
    snap = snapshot(poller)
    assert snap.regressions == {ARM: 1}
    assert available(poller, "1.0") == {"linux/amd64": 1, "linux/arm64": 0}


@pytest.mark.anyio
async def test_selection_limit_filters_and_deletions(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    for tag in ("1.9.0", "1.10.0", "1.8.0", "latest", "1.10.0-rc1"):
        registry.publish(tag, AMD)
    tags = TagFilter(include=(__import__("re").compile(r"^\d+\.\d+\.\d+$"),), limit=2)
    poller = make_poller(store, registry, clock, tags=tags)
    await poller.poll()
    assert [v.state.tag for v in snapshot(poller).tags] == ["1.10.0", "1.9.0"]
    registry.publish("1.7.5", AMD)  # newer by first sighting, older by version
    clock.now += 60
    await poller.poll()
    assert [v.state.tag for v in snapshot(poller).tags] == ["1.7.5", "1.10.0"]
    del registry.tags["1.7.5"]
    clock.now += 60
    await poller.poll()
    assert [v.state.tag for v in snapshot(poller).tags] == ["1.10.0", "1.9.0"]


@pytest.mark.anyio
async def test_settled_tags_are_rechecked_rarely_and_get_only_on_change(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    registry.publish("1.0", AMD, ARM)
    poller = make_poller(store, registry, clock, stall_after=300.0, settled_interval=3600.0)
    await poller.poll()
    assert (registry.heads, registry.gets) == (1, 1)
    clock.now += 60
    await poller.poll()  # young tag: HEAD, same digest, no GET
    assert (registry.heads, registry.gets) == (2, 1)
    clock.now += 600
    await poller.poll()  # complete and older than stall_after, checked 10 minutes ago: skipped
    assert registry.heads == 2
    clock.now += 3600
    await poller.poll()
    assert (registry.heads, registry.gets) == (3, 1)


@pytest.mark.anyio
async def test_learned_platforms_make_a_late_arch_missing(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    for tag in ("1.0", "1.1", "1.2"):
        registry.publish(tag, AMD, ARM, V7)
    poller = make_poller(store, registry, clock)
    await poller.poll()
    registry.publish("1.3", AMD)
    clock.now += 60
    await poller.poll()
    assert available(poller, "1.3") == {"linux/amd64": 1, "linux/arm64": 0, "linux/arm/v7": 0}
