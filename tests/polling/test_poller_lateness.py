"""What each platform of a repository usually takes, learned by the poller from the releases it
measures, kept across a restart, and the deadlines of the platforms a new release still lacks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from archlag.core.lateness import HISTORY, STALL_AFTER, ExpectedDelay, LatenessSettings
from archlag.store import SQLiteStore
from tests.support.fake_registry import AMD, ARM, BOTH, Clock, FakeRegistry, make_poller, snapshot

pytestmark = pytest.mark.anyio

LATENESS = LatenessSettings(min=60.0, max=7200.0, margin=1.5, min_observations=3)
SETTINGS = {"platforms": BOTH, "stall_after": 1800.0, "lateness": LATENESS, "interval": 10.0}


async def release(poller, registry: FakeRegistry, clock: Clock, tag: str, arm_after: float):
    """amd64 of ``tag``, then arm64 ``arm_after`` seconds later, each seen by a poll."""
    clock.now += 3600
    registry.publish(tag, AMD)
    await poller.poll()
    clock.now += arm_after
    registry.publish(tag, AMD, ARM)
    await poller.poll()


async def test_expectation_from_measured_releases_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    registry, clock = FakeRegistry(), Clock()
    store = SQLiteStore(path)
    poller = make_poller(store, registry, clock, **SETTINGS)
    await poller.poll()  # the empty repository: what appears from now on is measured
    for number, seconds in enumerate([100.0, 300.0, 200.0, 400.0]):
        await release(poller, registry, clock, f"1.{number}", seconds)
    learned = snapshot(poller).expected_delays
    assert learned == {
        AMD: ExpectedDelay(0.0, 0.0, 4),
        ARM: ExpectedDelay(typical=200.0, high=400.0, observations=4),
    }
    store.close()

    store = SQLiteStore(path)
    restarted = make_poller(store, registry, clock, **SETTINGS)
    assert snapshot(restarted).expected_delays == learned
    clock.now += 3600
    registry.publish("2.0", AMD)
    await restarted.poll()
    (pending,) = snapshot(restarted).deadlines
    assert (pending.tag, pending.platform, pending.basis) == ("2.0", ARM, HISTORY)
    assert pending.late_after == clock.now + 400.0 * 1.5
    assert pending.expected_by == clock.now + 200.0
    store.close()


async def test_too_little_history_falls_back_to_stall_after(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    poller = make_poller(store, registry, clock, **SETTINGS)
    await poller.poll()
    await release(poller, registry, clock, "1.0", 100.0)
    clock.now += 3600
    registry.publish("1.1", AMD)
    await poller.poll()

    (pending,) = snapshot(poller).deadlines
    assert pending.basis == STALL_AFTER
    assert pending.expected == ExpectedDelay(100.0, 100.0, 1), "shown for what it is"
    assert pending.late_after == clock.now + 1800.0
    assert pending.expected_by is None


async def test_baselines_and_backfill_estimates_never_make_an_expectation(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    clock.now = 1_700_000_000.0  # build times must lie in the past to be believed
    for tag, built in (("0.9", 1_600_000_000.0), ("1.0", 1_600_100_000.0)):
        registry.publish(tag, AMD, ARM)
        registry.built[tag] = {AMD: built, ARM: built + 600.0}
    poller = make_poller(store, registry, clock, backfill=True, **SETTINGS)
    await poller.poll()

    snap = snapshot(poller)
    assert snap.delays_estimated[ARM].count == 2, "the estimates are there, kept apart"
    assert snap.expected_delays == {}
    assert snap.deadlines == ()


async def test_a_new_setting_moves_the_deadline_at_once(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    poller = make_poller(store, registry, clock, **SETTINGS)
    await poller.poll()
    for number in range(3):
        await release(poller, registry, clock, f"1.{number}", 600.0)
    clock.now += 3600
    registry.publish("2.0", AMD)
    await poller.poll()
    assert snapshot(poller).deadlines[0].late_after == clock.now + 900.0

    slower = replace(LATENESS, margin=3.0)
    settings = replace(poller.watch.settings, lateness=slower)
    poller.reconfigure(replace(poller.watch, settings=settings), registry)

    assert snapshot(poller).deadlines[0].late_after == clock.now + 1800.0
