"""In-memory state of each watched repository, and the immutable snapshots metrics are built from.

The poller owns one :class:`RepositoryState` per watch and changes it only after the store has
committed the same change, so memory never runs ahead of disk. :meth:`RepositoryState.snapshot`
returns frozen values that a scrape can render on another thread.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from archlag.model import Completion, TagState, expected_platforms, select_tags
from archlag.platforms import Platform
from archlag.store import RepositoryRecord


@dataclass(frozen=True, slots=True)
class HistogramSnapshot:
    bounds: tuple[float, ...]  # upper bounds, without +Inf
    cumulative: tuple[int, ...]  # one per bound, then +Inf
    total: float

    @property
    def count(self) -> int:
        return self.cumulative[-1]


class Histogram:
    """Bucket counts and sum of observations, rebuilt from stored observations on start."""

    __slots__ = ("_bounds", "_counts", "_sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self._counts = [0] * (len(bounds) + 1)
        self._sum = 0.0

    def observe(self, value: float) -> None:
        self._counts[bisect.bisect_left(self._bounds, value)] += 1
        self._sum += value

    def snapshot(self) -> HistogramSnapshot:
        running, cumulative = 0, []
        for count in self._counts:
            running += count
            cumulative.append(running)
        return HistogramSnapshot(self._bounds, tuple(cumulative), self._sum)


@dataclass(frozen=True, slots=True)
class TagView:
    state: TagState
    expected: frozenset[Platform]

    @property
    def complete(self) -> bool:
        return self.state.publication.is_complete(self.expected)


@dataclass(frozen=True, slots=True)
class RepositorySnapshot:
    registry: str
    repository: str
    interval: float
    stall_after: float
    tags: tuple[TagView, ...]  # the selected tags, newest first
    last_poll_success: float | None
    last_poll_ok: bool | None  # None before the first poll
    poll_errors: int
    spread: HistogramSnapshot
    delays: Mapping[Platform, HistogramSnapshot]
    regressions: Mapping[Platform, int]
    spread_estimated: HistogramSnapshot | None = None  # backfill estimates, when enabled
    delays_estimated: Mapping[Platform, HistogramSnapshot] = field(default_factory=dict)
    unsupported: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RegistryStatus:
    """What a registry told archlag about its limits, for the collector."""

    registry: str
    ratelimit_limit: int | None = None
    ratelimit_remaining: int | None = None
    ratelimit_window_seconds: float | None = None
    backoff_until: float | None = None
    quota_requests: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    repositories: tuple[RepositorySnapshot, ...]
    registries: tuple[RegistryStatus, ...] = ()

    def registries_up(self) -> dict[str, bool]:
        """Per registry: up unless the latest poll of one of its watches failed; unknown before."""
        up: dict[str, bool] = {}
        for repo in self.repositories:
            if repo.last_poll_ok is not None:
                up[repo.registry] = up.get(repo.registry, True) and repo.last_poll_ok
        return up


@dataclass(slots=True)
class RepositoryState:
    """Everything archlag knows about one watched repository (mutable; owned by its poller)."""

    registry: str
    repository: str
    buckets: tuple[float, ...]
    baseline_done: bool = False
    first_listed: dict[str, float] = field(default_factory=dict)
    tags: dict[str, TagState] = field(default_factory=dict)
    selected: tuple[str, ...] = ()
    expected: dict[str, frozenset[Platform]] = field(default_factory=dict)
    last_poll_success: float | None = None
    last_poll_ok: bool | None = None
    poll_errors: int = 0
    regressions: Counter[Platform] = field(default_factory=Counter)
    unsupported: Counter[str] = field(default_factory=Counter)
    backfill: bool = False
    spread: Histogram = field(init=False)
    delays: dict[Platform, Histogram] = field(default_factory=dict)
    spread_estimated: Histogram = field(init=False)
    delays_estimated: dict[Platform, Histogram] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.spread = Histogram(self.buckets)
        self.spread_estimated = Histogram(self.buckets)

    def record(self, completions: Iterable[Completion]) -> None:
        for completion in completions:
            self.observe(None, completion.spread, completion.estimated)
            for platform, delay in completion.delays.items():
                self.observe(platform, delay, completion.estimated)

    def observe(self, platform: Platform | None, seconds: float, estimated: bool) -> None:
        """Record a spread (``platform`` None) or a delay; estimates are kept apart."""
        if platform is None:
            (self.spread_estimated if estimated else self.spread).observe(seconds)
            return
        delays = self.delays_estimated if estimated else self.delays
        if platform not in delays:
            delays[platform] = Histogram(self.buckets)
        delays[platform].observe(seconds)

    def snapshot(self, interval: float, stall_after: float) -> RepositorySnapshot:
        views = tuple(
            TagView(self.tags[t], self.expected.get(t, frozenset()))
            for t in self.selected
            if t in self.tags
        )
        return RepositorySnapshot(
            registry=self.registry,
            repository=self.repository,
            interval=interval,
            stall_after=stall_after,
            tags=views,
            last_poll_success=self.last_poll_success,
            last_poll_ok=self.last_poll_ok,
            poll_errors=self.poll_errors,
            spread=self.spread.snapshot(),
            delays={p: h.snapshot() for p, h in sorted(self.delays.items())},
            regressions=dict(self.regressions),
            spread_estimated=self.spread_estimated.snapshot() if self.backfill else None,
            delays_estimated={p: h.snapshot() for p, h in sorted(self.delays_estimated.items())},
            unsupported=dict(self.unsupported),
        )


def restore(
    record: RepositoryRecord,
    registry: str,
    repository: str,
    *,
    buckets: tuple[float, ...],
    platforms: frozenset[Platform],
    matches: Callable[[str], bool],
    limit: int,
    backfill: bool = False,
) -> RepositoryState:
    """Rebuild a repository's in-memory state, histograms included, from what the store holds.

    The watch's current settings apply (a tag filter or platform list changed while archlag was
    stopped takes effect before the first poll).
    """
    first_listed = {t: at for t, at in record.first_listed.items() if matches(t)}
    tags = {t: s for t, s in record.tags.items() if matches(t)}
    selected = tuple(select_tags(tags, first_listed, limit))
    tags = {t: tags[t] for t in selected}
    state = RepositoryState(
        registry,
        repository,
        buckets,
        baseline_done=record.baseline_done,
        first_listed=first_listed,
        tags=tags,
        selected=selected,
        expected=expected_platforms(platforms, tags),
        last_poll_success=record.last_poll_success,
        regressions=Counter(record.regressions),
        unsupported=Counter(record.unsupported),
        backfill=backfill,
    )
    for observation in record.observations:
        state.observe(observation.platform, observation.seconds, observation.estimated)
    return state
