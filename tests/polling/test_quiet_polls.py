"""A quiet poll (the same listing, nothing changed) costs the tag list and nothing else: it
neither writes the state file nor asks for a new rendering, and what it moves (poll times, when
tags were last checked) is written later, never taken back, never at the cost of a first-seen
time."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlag.core.snapshots import Snapshot
from archlag.metrics import Exposition
from archlag.store import SQLiteStore
from tests.support.fake_registry import AMD, ARM, Clock, FakeRegistry, make_poller, snapshot


def state_bytes(directory: Path) -> dict[str, bytes]:
    """Every file of the state (the database, its WAL and shared memory index)."""
    return {p.name: p.read_bytes() for p in sorted(directory.glob("state.db*"))}


@pytest.fixture
def counted_changes() -> list[int]:
    return []


@pytest.mark.anyio
async def test_a_quiet_poll_writes_nothing_and_renders_nothing(
    store: SQLiteStore, tmp_path: Path, counted_changes: list[int]
) -> None:
    registry, clock = FakeRegistry(), Clock()
    registry.publish("1.0", AMD, ARM)
    registry.publish("1.1", AMD)  # incomplete: looked at at every poll
    poller = make_poller(
        store, registry, clock, on_change=lambda: counted_changes.append(1),
        platforms=frozenset({AMD, ARM}),
    )  # fmt: skip
    exposition = Exposition(lambda: Snapshot((snapshot(poller),)))
    await poller.poll()
    clock.now += 60
    await poller.poll()  # the first listing is committed: from now on it is the same
    exposition.prime()
    first = exposition.body(openmetrics=False)
    generation, files, changes, heads = (
        snapshot(poller).generation, state_bytes(tmp_path), len(counted_changes), registry.heads
    )  # fmt: skip
    for _ in range(5):
        clock.now += 60
        await poller.poll()
    assert registry.heads == heads + 5, "the incomplete tag is still looked at at every poll"
    assert state_bytes(tmp_path) == files, "quiet polls leave the state file's bytes as they were"
    assert snapshot(poller).generation == generation, "nothing rendered changed"
    assert len(counted_changes) == changes, "no new rendering was asked for"
    assert poller.state.figures.last_poll_success == clock.now, "in memory, the time moved"
    exposition._latest = exposition._render(exposition._snapshot())  # what run() would do
    assert exposition.body(openmetrics=False)[:-1] == first[:-1], "the same pieces, reused"


@pytest.mark.anyio
async def test_quiet_times_are_written_every_settled_interval_and_at_a_flush(
    store: SQLiteStore,
) -> None:
    registry, clock = FakeRegistry(), Clock()
    registry.publish("1.0", AMD, ARM)
    poller = make_poller(store, registry, clock, settled_interval=3600.0)
    await poller.poll()
    written = store.load("127.0.0.1:5000", "demo/app").figures.last_poll_success
    for _ in range(3):
        clock.now += 60
        await poller.poll()
    stored = store.load("127.0.0.1:5000", "demo/app").figures
    assert stored.last_poll_success == written, "not written at every quiet poll"
    clock.now += 3600
    await poller.poll()  # a settled_interval since the last write: the times are written
    assert store.load("127.0.0.1:5000", "demo/app").figures.last_poll_success == clock.now
    clock.now += 60
    await poller.poll()
    await poller.flush()  # what the exporter does at shutdown
    stored = store.load("127.0.0.1:5000", "demo/app")
    assert stored.figures.last_poll_success == clock.now
    assert stored.tags["1.0"].last_checked == clock.now - 60, "the settled check, written too"


@pytest.mark.anyio
async def test_a_restart_after_quiet_polls_keeps_every_first_seen_time(
    store: SQLiteStore,
) -> None:
    """What a kill -9 after quiet polls loses is only times (the state is as the last write
    left it); a platform that appears then is measured from a bound that is still true."""
    registry, clock = FakeRegistry(), Clock()
    registry.publish("1.0", AMD, ARM)
    poller = make_poller(store, registry, clock, platforms=frozenset({AMD, ARM}))
    await poller.poll()
    registry.publish("2.0", AMD)
    clock.now += 60
    await poller.poll()
    seen = poller.state.tags["2.0"].publication.platforms[AMD].first_seen
    for _ in range(3):
        clock.now += 60
        await poller.poll()  # 2.0 is incomplete: looked at, unchanged: quiet
    restarted = make_poller(store, registry, clock, platforms=frozenset({AMD, ARM}))  # no flush
    assert restarted.state.tags["2.0"].publication.platforms[AMD].first_seen == seen
    registry.publish("2.0", AMD, ARM)
    clock.now += 60
    await restarted.poll()
    arm = restarted.state.tags["2.0"].publication.platforms[ARM]
    assert arm.first_seen == clock.now
    assert arm.last_absent is not None
    assert arm.last_absent <= clock.now - 60, "the last written check: an earlier, true bound"
    assert restarted.state.tags["2.0"].publication.complete
