"""The expectation of each platform and when a missing one is late, by tables of cases."""

from __future__ import annotations

import pytest

from archlag.core.lateness import (
    HISTORY,
    STALL_AFTER,
    WINDOW,
    DelayHistory,
    ExpectedDelay,
    LatenessRule,
    LatenessSettings,
    deadline,
    deadlines,
    expected_delay,
    nearest_rank,
)
from archlag.core.platforms import parse_platform
from archlag.core.publication import (
    CONFIGURED,
    Expectation,
    PlatformState,
    Publication,
    TagState,
)

AMD, ARM, V7 = (parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7"))
MINUTE = 60.0
RULE = LatenessRule(LatenessSettings(), stall_after=30 * MINUTE)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([7.0], 0.5, 7.0),
        ([7.0], 0.95, 7.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 0.5, 3.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 0.95, 5.0),  # five: the largest
        ([float(v) for v in range(1, 21)], 0.5, 10.0),  # the lower median, an observed value
        ([float(v) for v in range(1, 21)], 0.95, 19.0),  # twenty: the second largest
        ([float(v) for v in range(1, 11)], 0.95, 10.0),
    ],
)
def test_nearest_rank_quantiles(values: list[float], q: float, expected: float) -> None:
    assert nearest_rank(values, q) == expected


def test_expectation_is_median_and_p95_and_how_many_it_rests_on() -> None:
    delays = [40, 55, 90, 47, 62, 71, 44, 83, 58, 66, 41, 56, 89, 48, 63, 72, 45, 84, 59, 67]
    found = expected_delay(d * MINUTE for d in delays)  # 20 releases, in minutes
    assert found == ExpectedDelay(typical=59 * MINUTE, high=89 * MINUTE, observations=20)
    assert expected_delay([]) is None


def test_one_stuck_release_among_twenty_does_not_raise_the_high_quantile() -> None:
    history = DelayHistory()
    for seconds in [120.0] * 19 + [86400.0]:
        history.observe(ARM, seconds)
    assert history.expected()[ARM].high == 120.0


def test_history_keeps_the_last_window_of_each_platform() -> None:
    history = DelayHistory()
    for seconds in [5000.0] * WINDOW + [60.0] * WINDOW:  # builds got much faster
        history.observe(ARM, seconds)
    history.observe(AMD, 0.0)
    expected = history.expected()
    assert expected[ARM] == ExpectedDelay(60.0, 60.0, WINDOW)
    assert expected[AMD] == ExpectedDelay(0.0, 0.0, 1)
    assert V7 not in expected


def test_expectations_are_shared_until_the_next_observation() -> None:
    history = DelayHistory()
    history.observe(ARM, 60.0)
    first = history.expected()
    assert history.expected() is first
    history.observe(ARM, 120.0)
    assert history.expected() is not first
    assert first[ARM].observations == 1  # what a snapshot took does not change


@pytest.mark.parametrize(
    ("expected", "threshold", "basis"),
    [
        # enough history: p95 x 1.5
        (ExpectedDelay(50 * MINUTE, 80 * MINUTE, 20), 120 * MINUTE, HISTORY),
        # a fast platform: bounded below by min (5m)
        (ExpectedDelay(1 * MINUTE, 3 * MINUTE, 20), 5 * MINUTE, HISTORY),
        # a platform that always comes a day later: bounded above by max (24h)
        (ExpectedDelay(20 * 3600, 23 * 3600, 12), 24 * 3600, HISTORY),
        # exactly min_observations is enough
        (ExpectedDelay(10 * MINUTE, 20 * MINUTE, 5), 30 * MINUTE, HISTORY),
        # four releases are too few, whatever they say: stall_after
        (ExpectedDelay(1 * MINUTE, 2 * MINUTE, 4), 30 * MINUTE, STALL_AFTER),
        (None, 30 * MINUTE, STALL_AFTER),
    ],
)
def test_threshold_from_history_bounded_or_stall_after(
    expected: ExpectedDelay | None, threshold: float, basis: str
) -> None:
    assert RULE.threshold(expected) == threshold
    found = deadline("2.6.1", ARM, 1000.0, expected, RULE)
    assert (found.late_after, found.basis) == (1000.0 + threshold, basis)


def test_stall_after_is_not_bounded_by_min_and_max() -> None:
    rule = LatenessRule(LatenessSettings(min=600.0, max=900.0), stall_after=60.0)
    assert rule.threshold(None) == 60.0


def test_expected_by_is_the_typical_delay_and_only_from_enough_history() -> None:
    enough = deadline("1.0", ARM, 1000.0, ExpectedDelay(1080.0, 1500.0, 12), RULE)
    assert enough.expected_by == 1000.0 + 1080.0
    short = deadline("1.0", ARM, 1000.0, ExpectedDelay(1080.0, 1500.0, 2), RULE)
    assert short.expected_by is None
    assert short.expected == ExpectedDelay(1080.0, 1500.0, 2)  # still shown for what it is


def test_late_strictly_after_the_deadline() -> None:
    found = deadline("1.0", ARM, 1000.0, None, RULE)
    assert not found.late(1000.0 + 30 * MINUTE)
    assert found.late(1000.0 + 30 * MINUTE + 0.001)


def tag(name: str, seen: dict, expected: frozenset, vanished: frozenset = frozenset()) -> TagState:
    platforms = {
        platform: PlatformState(f"sha256:{name}{platform}", at, present=platform not in vanished)
        for platform, at in seen.items()
    }
    publication = Publication(
        1, min(seen.values()), platforms, expectation=Expectation(expected, CONFIGURED)
    )
    return TagState(name, f"sha256:{name}", publication, max(seen.values()))


def test_deadlines_only_for_expected_platforms_never_seen_in_incomplete_publications() -> None:
    three = frozenset({AMD, ARM, V7})
    tags = [
        tag("1.2", {AMD: 100.0}, three),  # arm64 and arm/v7 missing
        tag("1.1", {AMD: 50.0, ARM: 60.0, V7: 70.0}, three),  # complete
        tag("1.0", {AMD: 10.0, ARM: 20.0}, frozenset({AMD, ARM, V7}), vanished=frozenset({ARM})),
    ]
    history = {ARM: ExpectedDelay(60.0, 90.0, 20)}
    found = deadlines(tags, history, RULE)
    assert [(d.tag, d.platform, d.since, d.basis) for d in found] == [
        ("1.2", V7, 100.0, STALL_AFTER),  # no history of arm/v7
        ("1.2", ARM, 100.0, HISTORY),
        ("1.0", V7, 10.0, STALL_AFTER),  # the vanished arm64 is a regression, not late
    ]
    assert found[1].late_after == 100.0 + 5 * MINUTE  # 90s x 1.5, raised to min
