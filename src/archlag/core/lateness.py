"""What is normal for each platform of a repository, and when a missing one is late.

Pure logic over the repository's own measured delays (a :class:`~archlag.core.publication
.Completion`'s ``delays``: a platform's first-seen time after its publication's first one). Only
measured delays count: baselines never produce one, and backfill estimates are kept apart by the
caller.

**The expectation** of a platform (:class:`ExpectedDelay`) rests on its last :data:`WINDOW`
measured delays, in the order they were observed: the *typical* delay is their median (p50)
and the *high* one their 95th percentile (p95), both by nearest rank (the ⌈q·n⌉-th smallest of
n, always an observed value). With 20 delays the p95 is the second largest, so one past stuck
release does not raise the bar for ever, and the window follows a project whose builds got
faster or slower within 20 releases. With 5 it is the largest.

**Late** (:class:`Deadline`): a platform that an incomplete publication expects and has never
had is late once it has been missing, since the publication's first platform, longer than its
threshold (:meth:`LatenessRule.threshold`): ``high * margin`` bounded to ``[min, max]`` when
the expectation rests on at least ``min_observations`` delays, otherwise the watch's
``stall_after``. A platform that was present and vanished is a regression, not late.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from archlag.core.platforms import Platform
from archlag.core.publication import TagState

WINDOW = 20  # the measured delays of a platform an expectation rests on, the most recent ones
TYPICAL_QUANTILE = 0.5
HIGH_QUANTILE = 0.95

# Where a deadline comes from (Deadline.basis).
HISTORY = "history"  # the repository's own delays for the platform
STALL_AFTER = "stall_after"  # too little history: the watch's fixed threshold


@dataclass(frozen=True, slots=True)
class LatenessSettings:
    """The bounds of a learned threshold (the ``lateness`` setting of a watch)."""

    min: float = 300.0  # seconds: never late sooner, however fast the platform usually is
    max: float = 86400.0  # seconds: always late by then, however slow it usually is
    margin: float = 1.5  # times the high quantile
    min_observations: int = 5  # fewer measured delays: stall_after applies


@dataclass(frozen=True, slots=True)
class ExpectedDelay:
    """How long after its publication's first platform a platform usually appears."""

    typical: float  # p50 of the delays, seconds
    high: float  # p95
    observations: int  # how many delays these rest on (at most WINDOW)

    def percentiles(self) -> tuple[tuple[str, float], ...]:
        """``("50", typical), ("95", high)``: the values by percentile, as exported."""
        return (
            (f"{TYPICAL_QUANTILE * 100:g}", self.typical),
            (f"{HIGH_QUANTILE * 100:g}", self.high),
        )


def nearest_rank(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of ``ordered`` (sorted, not empty): its ⌈q·n⌉-th smallest value."""
    rank = max(math.ceil(q * len(ordered) - 1e-9), 1)
    return ordered[rank - 1]


def expected_delay(delays: Iterable[float]) -> ExpectedDelay | None:
    """The expectation from some measured delays; None without any."""
    ordered = sorted(delays)
    if not ordered:
        return None
    return ExpectedDelay(
        nearest_rank(ordered, TYPICAL_QUANTILE), nearest_rank(ordered, HIGH_QUANTILE), len(ordered)
    )


class DelayHistory:
    """The last :data:`WINDOW` measured delays of each platform (mutable, bounded; owned by one
    watch's state), and the expectations they give."""

    __slots__ = ("_delays", "_expected")

    def __init__(self) -> None:
        self._delays: dict[Platform, deque[float]] = {}
        self._expected: Mapping[Platform, ExpectedDelay] | None = {}

    def observe(self, platform: Platform, seconds: float) -> None:
        """A measured delay (never an estimate), in the order delays were observed."""
        kept = self._delays.get(platform)
        if kept is None:
            kept = self._delays[platform] = deque(maxlen=WINDOW)
        kept.append(max(seconds, 0.0))
        self._expected = None

    def expected(self) -> Mapping[Platform, ExpectedDelay]:
        """Each platform's expectation (a new mapping after each :meth:`observe`, else the same
        one: snapshots share it)."""
        if self._expected is None:
            found = {p: expected_delay(kept) for p, kept in sorted(self._delays.items())}
            self._expected = {p: e for p, e in found.items() if e is not None}
        return self._expected


@dataclass(frozen=True, slots=True)
class LatenessRule:
    """A watch's lateness settings with its ``stall_after``, for when history is too short."""

    settings: LatenessSettings = field(default_factory=LatenessSettings)
    stall_after: float = 1800.0

    def from_history(self, expected: ExpectedDelay | None) -> bool:
        """Whether ``expected`` rests on enough delays to judge by."""
        return expected is not None and expected.observations >= self.settings.min_observations

    def threshold(self, expected: ExpectedDelay | None) -> float:
        """How long a platform may be missing before it is late, in seconds."""
        if expected is None or not self.from_history(expected):
            return self.stall_after
        bounds = self.settings
        return min(max(expected.high * bounds.margin, bounds.min), bounds.max)


@dataclass(frozen=True, slots=True)
class Deadline:
    """When a missing platform of a tag's current publication is expected, and late."""

    tag: str
    platform: Platform
    since: float  # the publication's first platform
    late_after: float  # late once the clock is past this
    basis: str  # HISTORY or STALL_AFTER
    expected: ExpectedDelay | None  # the platform's history, enough or not (None: none)

    @property
    def expected_by(self) -> float | None:
        """When the platform usually appears (the typical delay), when judged by history."""
        if self.basis != HISTORY or self.expected is None:
            return None
        return self.since + self.expected.typical

    def late(self, now: float) -> bool:
        return now > self.late_after


def deadline(
    tag: str,
    platform: Platform,
    since: float,
    expected: ExpectedDelay | None,
    rule: LatenessRule,
) -> Deadline:
    """The deadline of ``platform``, missing from a publication that began at ``since``."""
    basis = HISTORY if rule.from_history(expected) else STALL_AFTER
    return Deadline(tag, platform, since, since + rule.threshold(expected), basis, expected)


def deadlines(
    tags: Iterable[TagState], expected: Mapping[Platform, ExpectedDelay], rule: LatenessRule
) -> tuple[Deadline, ...]:
    """The deadline of every platform that the current publication of one of ``tags`` expects
    and has never had (platforms that vanished are regressions, not late), in tag order."""
    found = []
    for state in tags:
        publication = state.publication
        if publication.complete:
            continue
        for platform in sorted(publication.expected - publication.platforms.keys()):
            found.append(
                deadline(state.tag, platform, publication.first_seen, expected.get(platform), rule)
            )
    return tuple(found)
