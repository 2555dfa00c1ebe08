"""Ordinary registry behaviour cannot rewrite history: the poller with a fake registry.

Each test replays one story of the trustworthy-measurements issue and checks what a user sees:
availability, completeness, first-seen times, histogram counts and the watch's status.
"""

from __future__ import annotations

import pytest

from archlag.config import TagFilter
from archlag.core.snapshots import Snapshot
from tests.support.fake_registry import (
    AMD,
    ARM,
    BOTH,
    V7,
    Clock,
    FakeRegistry,
    available,
    first_poll,
    make_poller,
    snapshot,
)

pytestmark = pytest.mark.anyio


async def staggered(poller, registry: FakeRegistry, clock: Clock, tag: str, *released: str) -> None:
    """Publish ``released`` tags complete, poll, then ``tag`` with amd64 and a poll later arm64."""
    for name in released:
        registry.publish(name, AMD, ARM)
    await poller.poll()
    registry.publish(tag, AMD)
    clock.now += 60
    await poller.poll()
    registry.publish(tag, AMD, ARM)
    clock.now += 60
    await poller.poll()


async def test_a_later_tag_with_a_new_platform_leaves_older_tags_alone(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    registry.publish("0.9", AMD, ARM)
    poller = make_poller(store, registry, clock)
    await poller.poll()
    for tag in ("1.0", "1.1"):
        clock.now += 60
        registry.publish(tag, AMD, ARM)
        await poller.poll()
    assert snapshot(poller).spread.count == 2
    clock.now += 60
    registry.publish("2.0", AMD, ARM, V7)
    await poller.poll()
    for tag in ("0.9", "1.0", "1.1"):
        assert available(poller, tag) == {"linux/amd64": 1, "linux/arm64": 1}, tag
    views = {v.state.tag: v for v in snapshot(poller).tags}
    assert all(v.complete for v in views.values())
    assert views["2.0"].expected == BOTH, "2.0 is judged by the tags before it"
    assert snapshot(poller).spread.count == 3
    assert snapshot(poller).delays[V7].count == 1, "arm/v7's first delay is counted"
    clock.now += 60
    registry.publish("2.1", AMD, ARM)
    await poller.poll()
    assert available(poller, "2.1")["linux/arm/v7"] == 0, "from now on arm/v7 is expected"


async def test_a_repository_that_does_not_exist_yet_is_empty_not_down(store) -> None:
    registry, clock = FakeRegistry(missing=True), Clock()
    poller = make_poller(store, registry, clock, platforms=BOTH)
    await poller.poll()
    snap = snapshot(poller)
    assert snap.figures.status.reason == "not_found"
    assert "repository not found" in snap.figures.status.message
    assert Snapshot((snap,)).registries_up() == {"127.0.0.1:5000": True}
    assert snap.figures.last_poll_success == clock.now
    registry.missing = False
    registry.publish("1.0", AMD)
    clock.now += 60
    await poller.poll()
    assert snapshot(poller).figures.status.reason == "ok"
    registry.publish("1.0", AMD, ARM)
    clock.now += 60
    await poller.poll()
    snap = snapshot(poller)
    assert snap.spread.count == 1, "the first release of a new repository is measured"
    assert snap.spread.total == 60
    publication = snap.tags[0].state.publication
    assert not publication.baseline
    assert publication.platforms[AMD].last_absent == clock.now - 120, "the empty listing"


async def test_one_empty_listing_erases_nothing(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    poller = make_poller(store, registry, clock, platforms=BOTH)
    await staggered(poller, registry, clock, "2.0", "1.0", "1.1", "1.2")
    before = {v.state.tag: v.state.publication for v in snapshot(poller).tags}
    assert snapshot(poller).spread.count == 1

    registry.listings = [[]]  # a CDN answers one poll with an empty list
    clock.now += 60
    await poller.poll()
    snap = snapshot(poller)
    assert [v.state.tag for v in snap.tags] == ["2.0", "1.2", "1.1", "1.0"], "nothing left"
    assert snap.figures.suspect_listings == 1
    clock.now += 60
    await poller.poll()
    after = snapshot(poller)
    assert {v.state.tag: v.state.publication for v in after.tags} == before
    assert after.spread.count == 1, "no tag counted twice, no baseline counted"


async def test_a_listing_confirmed_twice_removes_tags_and_their_return_resumes_them(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    poller = make_poller(store, registry, clock, platforms=BOTH)
    await staggered(poller, registry, clock, "2.0", "1.0", "1.1")
    kept = poller.state.tags["2.0"]
    registry.listings = [["1.0", "1.1"], ["1.0", "1.1"]]  # 2.0 is gone, twice in a row
    for _ in range(2):
        clock.now += 60
        await poller.poll()
    assert [v.state.tag for v in snapshot(poller).tags] == ["1.1", "1.0"]
    assert poller.state.absent_since == {"2.0": clock.now - 60}
    clock.now += 60
    await poller.poll()  # back, same content
    assert snapshot(poller).tags[0].state.publication == kept.publication
    assert snapshot(poller).spread.count == 1


async def test_tags_that_leave_the_limit_and_return_keep_their_history(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    poller = make_poller(store, registry, clock, platforms=BOTH, tags=TagFilter(limit=2))
    await staggered(poller, registry, clock, "1.1", "1.0")
    kept = poller.state.tags["1.1"]
    registry.publish("1.2", AMD, ARM)
    registry.publish("1.3", AMD, ARM)
    clock.now += 60
    await poller.poll()
    assert [v.state.tag for v in snapshot(poller).tags] == ["1.3", "1.2"]
    del registry.tags["1.2"], registry.tags["1.3"]
    for _ in range(2):
        clock.now += 60
        await poller.poll()
    assert [v.state.tag for v in snapshot(poller).tags] == ["1.1", "1.0"]
    assert snapshot(poller).tags[0].state.publication == kept.publication
    assert snapshot(poller).spread.count == 3, "1.1, 1.2 and 1.3, each once"


async def test_late_platforms_record_the_last_check_without_them(store) -> None:
    registry, clock, poller = await first_poll(store, platforms=BOTH, interval=5.0)
    clock.now += 5
    registry.publish("2.0", AMD)
    await poller.poll()
    clock.now += 5
    await poller.poll()
    clock.now += 5
    registry.publish("2.0", AMD, ARM)
    await poller.poll()
    publication = poller.state.tags["2.0"].publication
    assert publication.platforms[AMD].last_absent == clock.now - 15, "the listing before it"
    assert publication.platforms[ARM].last_absent == clock.now - 5, "the check before it"
    baseline = poller.state.tags["1.0"].publication
    assert baseline.platforms[AMD].last_absent is None


async def test_one_unreadable_tag_fails_that_tag_not_the_poll(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    registry.publish("1.0", AMD, ARM)
    registry.publish("1.1", AMD, ARM)
    registry.broken.add("1.1")
    poller = make_poller(store, registry, clock, platforms=BOTH)
    await poller.poll()
    snap = snapshot(poller)
    assert snap.figures.status.reason == "ok"
    assert Snapshot((snap,)).registries_up() == {"127.0.0.1:5000": True}
    assert [v.state.tag for v in snap.tags] == ["1.0"]
    registry.broken.clear()
    clock.now += 60
    await poller.poll()
    assert [v.state.tag for v in snapshot(poller).tags] == ["1.1", "1.0"]


async def test_names_that_are_not_tags_are_ignored_and_counted(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    registry.publish("1.0", AMD)
    registry.listings = [["1.0", "2.0\n", "../x", "-bad", "a" * 129]]
    poller = make_poller(store, registry, clock)
    await poller.poll()
    snap = snapshot(poller)
    assert snap.figures.invalid_tags == 4
    assert [v.state.tag for v in snap.tags] == ["1.0"]
    assert registry.heads == 1, "no request was made for a name that is not a tag"


@pytest.mark.parametrize(
    ("refused", "reason", "registry_up"),
    [(False, "denied", True), (True, "unauthorized", False)],
    ids=["repository-denies", "credentials-refused"],
)
async def test_a_refusal_is_the_repository_s_unless_the_registry_refuses_archlag(
    store, refused: bool, reason: str, registry_up: bool
) -> None:
    registry, clock = FakeRegistry(denied=True, refused=refused), Clock()
    poller = make_poller(store, registry, clock)
    await poller.poll()
    snap = snapshot(poller)
    assert snap.figures.status.reason == reason
    assert "authentication required" in snap.figures.status.message
    assert Snapshot((snap,)).registries_up() == {"127.0.0.1:5000": registry_up}
