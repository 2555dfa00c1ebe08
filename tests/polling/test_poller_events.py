"""Events are hints, the registry is the truth: the poller with announced tags.

The fake registry of tests/support/fake_registry.py, with the poller told what events announced.
"""

from __future__ import annotations

import time

import anyio
import pytest

from archlag.polling.hints import Hints
from tests.support.fake_registry import AMD, ARM, BOTH, Clock, FakeRegistry, first_poll, make_poller

pytestmark = pytest.mark.anyio


async def test_an_event_s_push_time_is_the_first_seen_time_when_plausible(store) -> None:
    registry, clock, poller = await first_poll(store, platforms=BOTH)
    clock.now += 5
    registry.publish("2.0", AMD)
    poller.announce("2.0", clock.now - 0.3, "local")
    await poller.poll()
    amd = poller.state.tags["2.0"].publication.platforms[AMD]
    assert (amd.first_seen, amd.source) == (clock.now - 0.3, "event")
    clock.now += 20
    registry.publish("2.0", AMD, ARM)
    poller.announce("2.0", clock.now - 0.2, "local")
    await poller.poll()
    arm = poller.state.tags["2.0"].publication.platforms[ARM]
    assert (arm.first_seen, arm.source, arm.last_absent) == (
        clock.now - 0.2,
        "event",
        clock.now - 20,
    )
    assert poller.state.spread.snapshot().total == pytest.approx(20.1)
    assert poller.state.figures.changes == {"event": 2}


@pytest.mark.parametrize(
    ("offset", "why"),
    [(+5.0, "in the future"), (-30.0, "before the previous check that did not see it")],
)
async def test_an_implausible_push_time_is_not_believed(store, offset, why) -> None:
    registry, clock, poller = await first_poll(store, platforms=BOTH)
    clock.now += 10
    registry.publish("2.0", AMD)
    poller.announce("2.0", clock.now + offset, "local")
    await poller.poll()
    amd = poller.state.tags["2.0"].publication.platforms[AMD]
    assert (amd.first_seen, amd.source) == (clock.now, "observed"), why


async def test_a_tag_an_event_announces_is_measured_never_a_baseline(store) -> None:
    registry, clock = FakeRegistry(), Clock()
    registry.publish("1.0", AMD, ARM)
    registry.publish("2.0", AMD, ARM)
    poller = make_poller(store, registry, clock, platforms=BOTH)
    poller.announce("2.0", clock.now - 1.0, "local")  # before the repository's first poll
    await poller.poll()
    tags = poller.state.tags
    assert tags["1.0"].publication.baseline
    assert not tags["2.0"].publication.baseline
    assert tags["2.0"].publication.observed
    assert poller.state.spread.snapshot().count == 1


async def test_a_burst_of_events_costs_one_check(store) -> None:
    registry, clock, poller = await first_poll(store, platforms=BOTH, stall_after=0.0)
    heads = registry.heads
    for offset in range(5):
        poller.announce("1.0", clock.now - 5 + offset, "local")
    poller.announce(None, clock.now - 1, "local")  # a manifest pushed by digest
    clock.now += 1
    await poller.poll()
    assert registry.heads - heads == 1, "one HEAD for five events about one tag"


async def test_events_survive_a_poll_that_failed(store) -> None:
    registry, clock, poller = await first_poll(store, platforms=BOTH)
    registry.down = True
    clock.now += 5
    registry.publish("2.0", AMD)
    poller.announce("2.0", clock.now - 0.5, "local")
    await poller.poll()
    registry.down = False
    clock.now += 60
    await poller.poll()
    amd = poller.state.tags["2.0"].publication.platforms[AMD]
    assert (amd.first_seen, amd.source) == (clock.now - 60.5, "event")


async def test_polling_finds_what_events_missed_and_says_so(store) -> None:
    registry, clock, poller = await first_poll(store, platforms=BOTH)
    clock.now += 60
    registry.publish("2.0", AMD, ARM)
    await poller.poll()
    assert poller.state.figures.changes == {"poll": 1}


async def test_an_event_wakes_a_sleeping_poller() -> None:
    hints = Hints()
    woke: list[float] = []

    async def sleeper() -> None:
        started = time.monotonic()
        await hints.wait(30.0)
        woke.append(time.monotonic() - started)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(sleeper)
            await anyio.sleep(0.1)
            hints.add("1.0", None, "local")
    assert woke, "the wait returned long before its 30 s"
    assert hints.take().names("1.0")
