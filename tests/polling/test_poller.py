"""The poller against an in-memory registry (a fake TagSource) and a real SQLite store."""

from __future__ import annotations

import pytest

from archlag.config import TagFilter
from archlag.core.snapshots import Snapshot
from tests.support.fake_registry import (
    AMD,
    ARM,
    V7,
    Clock,
    FakeRegistry,
    available,
    first_poll,
    make_poller,
    snapshot,
)


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
async def test_registry_down_keeps_state_and_marks_failure(store, caplog) -> None:
    registry, clock, poller = await first_poll(store)
    registry.down = True
    clock.now += 60
    await poller.poll()
    snap = snapshot(poller)
    assert Snapshot((snap,)).registries_up() == {"127.0.0.1:5000": False}
    assert (snap.figures.status.reason, snap.figures.status.since) == ("unreachable", clock.now)
    assert available(poller, "1.0") == {"linux/amd64": 1, "linux/arm64": 1}
    assert snap.figures.last_poll_success == 1_000_000.0
    assert snap.figures.poll_errors == 1
    registry.down = False
    clock.now += 60
    with caplog.at_level("INFO", logger="archlag.poller"):
        await poller.poll()
    assert Snapshot((snapshot(poller),)).registries_up() == {"127.0.0.1:5000": True}
    assert snapshot(poller).figures.status.reason == "ok"
    assert any(r.getMessage() == "watch_recovered" for r in caplog.records), "recovery is logged"


@pytest.mark.anyio
async def test_restart_keeps_first_seen_and_histograms(store) -> None:
    registry, clock, poller = await first_poll(store, platforms=frozenset({AMD, ARM}))
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
    poller = make_poller(store, registry, clock)
    await poller.poll()
    registry.publish("1.0", AMD, ARM)  # seen begin: young, looked at at every poll
    clock.now += 60
    await poller.poll()
    registry.publish("1.0", AMD)  # same amd64 digest: arm64 vanished from the publication
    clock.now += 60
    await poller.poll()
    snap = snapshot(poller)
    assert snap.figures.regressions == {ARM: 1}
    assert available(poller, "1.0") == {"linux/amd64": 1, "linux/arm64": 0}


@pytest.mark.anyio
async def test_selection_limit_filters_and_deletions(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    for tag in ("1.9.0", "1.10.0", "1.8.0", "latest", "1.10.0-rc1"):
        registry.publish(tag, AMD)
    tags = TagFilter(include=(r"^\d+\.\d+\.\d+$",), limit=2)
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
    assert [v.state.tag for v in snapshot(poller).tags] == ["1.7.5", "1.10.0"], (
        "one look is not enough"
    )
    clock.now += 60
    await poller.poll()
    assert [v.state.tag for v in snapshot(poller).tags] == ["1.10.0", "1.9.0"]
    assert "1.7.5" in poller.state.tags, "its record stays"


@pytest.mark.anyio
async def test_settled_tags_are_rechecked_rarely_and_get_only_on_change(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    registry.publish("0.9", AMD, ARM)
    poller = make_poller(store, registry, clock, stall_after=300.0, settled_interval=3600.0)
    await poller.poll()
    assert (registry.heads, registry.gets) == (1, 1)
    registry.publish("1.0", AMD, ARM)  # seen begin: measured, young until stall_after
    clock.now += 60
    await poller.poll()  # the baseline 0.9 is settled from the start: only 1.0 is read
    assert (registry.heads, registry.gets) == (2, 2)
    clock.now += 60
    await poller.poll()  # young tag: HEAD, same digest, no GET
    assert (registry.heads, registry.gets) == (3, 2)
    clock.now += 600
    await poller.poll()  # complete and older than stall_after, checked 10 minutes ago: skipped
    assert registry.heads == 3
    clock.now += 3600
    await poller.poll()  # both settled tags are due again
    assert (registry.heads, registry.gets) == (5, 2)


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


@pytest.mark.anyio
async def test_per_arch_suffix_tags_are_platforms_of_their_base_tag(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    registry.publish("1.0", AMD, ARM)
    poller = make_poller(
        store, registry, clock, platforms=frozenset({AMD, ARM}), platform_tags="{tag}-{arch}"
    )
    await poller.poll()
    registry.publish("2.0-amd64", AMD)  # the per-arch build lands before any combined index
    clock.now += 60
    await poller.poll()
    assert [v.state.tag for v in snapshot(poller).tags] == ["2.0", "1.0"]
    assert available(poller, "2.0") == {"linux/amd64": 1, "linux/arm64": 0}
    registry.publish("2.0-arm64", ARM)
    clock.now += 600
    await poller.poll()
    snap = snapshot(poller)
    assert snap.spread.count == 1
    assert snap.spread.total == 600
    # The combined index lists the same per-arch manifests: nothing new.
    registry.tags["2.0"] = {
        AMD: registry.tags["2.0-amd64"][AMD],
        ARM: registry.tags["2.0-arm64"][ARM],
    }
    heads = registry.heads
    clock.now += 60
    await poller.poll()
    assert snapshot(poller).spread.count == 1
    assert registry.heads > heads


@pytest.mark.anyio
async def test_registry_push_times_are_used_when_earlier(store) -> None:
    registry, clock, poller = await first_poll(store, platforms=frozenset({AMD, ARM}))
    clock.now += 3600
    registry.publish("1.1", AMD, ARM)
    registry.pushed["1.1"] = {AMD: clock.now - 900, ARM: clock.now - 300}
    await poller.poll()
    view = next(v for v in snapshot(poller).tags if v.state.tag == "1.1")
    states = view.state.publication.platforms
    assert states[AMD].first_seen == clock.now - 900
    assert states[AMD].source == "registry"
    assert snapshot(poller).spread.total == 600, "spread from push times, not poll times"


@pytest.mark.anyio
async def test_backfill_estimates_are_kept_apart(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    clock.now = 1_700_000_000.0  # build times must lie in the past to be believed
    registry.publish("1.0", AMD, ARM)
    registry.built["1.0"] = {AMD: 1_600_000_000.0, ARM: 1_600_000_120.0}
    registry.publish("0.9", AMD, ARM)
    registry.built["0.9"] = {AMD: 315_532_800.0, ARM: 315_532_800.0}  # 1980: reproducible build
    poller = make_poller(store, registry, clock, platforms=frozenset({AMD, ARM}), backfill=True)
    await poller.poll()
    snap = snapshot(poller)
    assert snap.spread.count == 0, "baseline tags are never measured"
    assert snap.spread_estimated is not None
    assert snap.spread_estimated.count == 1
    assert snap.spread_estimated.total == 120


@pytest.mark.anyio
async def test_unsupported_manifests_are_counted_once_per_digest(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    registry.publish("old", AMD)
    registry.unsupported.add("old")
    poller = make_poller(store, registry, clock)
    for _ in range(3):
        await poller.poll()
        clock.now += 60
    snap = snapshot(poller)
    assert snap.figures.unsupported == {"schema1": 1}
    assert registry.gets == 1, "not fetched again while its digest stays the same"
    assert Snapshot((snap,)).registries_up() == {"127.0.0.1:5000": True}


@pytest.mark.anyio
async def test_first_poll_ranks_tags_by_registry_push_times_when_known(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    for tag in ("1.0.0", "2.0.0", "0.9.0"):
        registry.publish(tag, AMD)
    registry.tag_pushed = {"0.9.0": clock.now - 60, "2.0.0": clock.now - 7200}
    tags = TagFilter(limit=2)
    poller = make_poller(store, registry, clock, tags=tags)
    await poller.poll()
    # 0.9.0 was pushed last; 1.0.0 is missing from the newest-first listing, so it is oldest.
    assert [v.state.tag for v in snapshot(poller).tags] == ["0.9.0", "2.0.0"]
