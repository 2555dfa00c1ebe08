"""In-memory state of each watched repository, and the immutable snapshots metrics are built from.

The poller owns one :class:`RepositoryState` per watch and changes it only after the store has
committed the same change, so memory never runs ahead of disk. :meth:`RepositoryState.snapshot`
returns frozen values that a scrape can render on another thread.

History is kept apart from the view: ``tags`` holds the record of every tag archlag tracked
(including tags that left the listing or the ``tags.limit`` selection), ``selected`` is what is
shown and exported. A tag that comes back resumes its record.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from archlag.model import Completion, TagState, legacy_expectation, select_tags
from archlag.platforms import Platform
from archlag.store import RepositoryRecord

# Why a watch's latest poll went the way it did: a small fixed set, for a metric label.
PENDING = "pending"  # no poll has finished yet
OK = "ok"
NOT_FOUND = "not_found"  # the repository does not exist (yet): an empty repository
DENIED = "denied"  # 401/403 for this repository, while the registry accepts archlag
UNAUTHORIZED = "unauthorized"  # the registry refuses archlag's credentials (or has none)
UNREADABLE = "unreadable"  # the registry answered, but not with something archlag can use
UNREACHABLE = "unreachable"  # connection, timeout or 5xx: the registry itself
RATE_LIMITED = "rate_limited"  # 429, or backing off after one: the registry itself
ERROR = "error"  # archlag's own failure (the state file could not be written, a bug)
WATCH_STATUSES = (
    PENDING, OK, NOT_FOUND, DENIED, UNAUTHORIZED, UNREADABLE, UNREACHABLE, RATE_LIMITED, ERROR,
)  # fmt: skip
# These are the registry's, not the repository's: they make archlag_registry_up 0.
REGISTRY_PROBLEMS = frozenset({UNAUTHORIZED, UNREACHABLE, RATE_LIMITED})


@dataclass(frozen=True, slots=True)
class WatchStatus:
    reason: str = PENDING
    message: str = ""  # short and sanitised: safe for the status page
    since: float | None = None  # when the watch entered this reason

    def then(self, reason: str, message: str, now: float) -> WatchStatus:
        """The status after a poll; ``since`` stays while the reason stays."""
        since = self.since if reason == self.reason and self.since is not None else now
        return WatchStatus(reason, message, since)


@dataclass(frozen=True, slots=True)
class HistogramSnapshot:
    bounds: tuple[float, ...]  # upper bounds, without +Inf
    cumulative: tuple[int, ...]  # one per bound, then +Inf
    total: float

    @property
    def count(self) -> int:
        return self.cumulative[-1]

    @classmethod
    def empty(cls, bounds: tuple[float, ...]) -> HistogramSnapshot:
        return cls(bounds, (0,) * (len(bounds) + 1), 0.0)


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
    error: str = ""  # why the latest check of this tag failed, if it did (sanitised)

    @property
    def expected(self) -> frozenset[Platform]:
        return self.state.publication.expected

    @property
    def complete(self) -> bool:
        return self.state.publication.complete


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
    status: WatchStatus = field(default_factory=WatchStatus)
    invalid_tags: int = 0  # names in the latest listing that are not valid tags (ignored)
    suspect_listings: int = 0  # listings that dropped every tag or most of them at once
    forgotten_names: int = 0  # absent names without a record forgotten by the cap
    changes: Mapping[str, int] = field(default_factory=dict)  # tags with new content: poll, event
    last_event: float | None = None  # when a push event for this watch was last accepted
    generation: int = 0  # changes whenever anything in this snapshot may have changed
    # False for watches with platform_tags: a tag's digest then combines several manifests
    manifest_digests: bool = True
    configured_platforms: frozenset[Platform] = frozenset()  # the watch's `platforms`
    # tags in view that no check could read yet (no record): why their latest check failed
    unread: Mapping[str, str] = field(default_factory=dict)

    @property
    def failing(self) -> int:
        """Tags in view whose latest check failed, read before or not."""
        return sum(1 for view in self.tags if view.error) + len(self.unread)

    @property
    def platforms(self) -> frozenset[Platform]:
        """Every platform a selected tag has or expects: the platforms in the view."""
        found: set[Platform] = set()
        for view in self.tags:
            found |= view.expected | view.state.publication.platforms.keys()
        return frozenset(found)


@dataclass(frozen=True, slots=True)
class RegistryStatus:
    """What a registry told archlag about its limits, for the collector."""

    registry: str
    ratelimit_limit: int | None = None
    ratelimit_remaining: int | None = None
    ratelimit_window_seconds: float | None = None
    backoff_until: float | None = None
    quota_requests: int = 0
    limits_hit: Mapping[str, int] = field(default_factory=dict)  # caps hit, by cap name


@dataclass(frozen=True, slots=True)
class Snapshot:
    repositories: tuple[RepositorySnapshot, ...]
    registries: tuple[RegistryStatus, ...] = ()

    def registries_up(self) -> dict[str, bool]:
        """Per registry: down while the latest poll of one of its watches could not reach it.

        A repository that does not exist, or that denies archlag, is that watch's problem, not
        the registry's. Unknown before the first poll.
        """
        up: dict[str, bool] = {}
        for repo in self.repositories:
            if repo.status.reason != PENDING:
                reachable = repo.status.reason not in REGISTRY_PROBLEMS
                up[repo.registry] = up.get(repo.registry, True) and reachable
        return up


@dataclass(slots=True)
class RepositoryState:
    """Everything archlag knows about one watched repository (mutable; owned by its poller)."""

    registry: str
    repository: str
    buckets: tuple[float, ...]
    baseline_done: bool = False
    first_listed: dict[str, float] = field(default_factory=dict)  # present and absent tags
    absent_since: dict[str, float] = field(default_factory=dict)  # tags a listing confirmed gone
    missing_once: dict[str, float] = field(default_factory=dict)  # missing from one listing
    last_listing: float | None = None  # when the latest trusted listing was read
    tags: dict[str, TagState] = field(default_factory=dict)  # every record, in view or not
    selected: tuple[str, ...] = ()
    last_poll_success: float | None = None
    last_poll_ok: bool | None = None
    poll_errors: int = 0
    regressions: Counter[Platform] = field(default_factory=Counter)
    unsupported: Counter[str] = field(default_factory=Counter)
    backfill: bool = False
    status: WatchStatus = field(default_factory=WatchStatus)
    tag_errors: dict[str, str] = field(default_factory=dict)
    invalid_tags: int = 0
    suspect_listings: int = 0
    forgotten_names: int = 0
    unsaved: set[str] = field(default_factory=set)  # records fixed up at restore, to write
    changes: Counter[str] = field(default_factory=Counter)  # tags with new content, by cause
    last_event: float | None = None  # when a push event for this watch was last accepted
    generation: int = 0
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

    def snapshot(
        self,
        interval: float,
        stall_after: float,
        *,
        manifest_digests: bool = True,
        configured_platforms: frozenset[Platform] = frozenset(),
    ) -> RepositorySnapshot:
        views = tuple(
            TagView(self.tags[t], self.tag_errors.get(t, ""))
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
            status=self.status,
            invalid_tags=self.invalid_tags,
            suspect_listings=self.suspect_listings,
            forgotten_names=self.forgotten_names,
            changes=dict(self.changes),
            last_event=self.last_event,
            generation=self.generation,
            manifest_digests=manifest_digests,
            configured_platforms=configured_platforms,
            unread={
                t: self.tag_errors[t]
                for t in self.selected
                if t not in self.tags and t in self.tag_errors
            },
        )

    def listed(self) -> list[str]:
        """Tags believed to exist: every known tag that no listing confirmed gone."""
        return [t for t in self.first_listed if t not in self.absent_since]


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

    The watch's current settings choose the view (a tag filter changed while archlag was
    stopped takes effect before the first poll), as a listing does: listed tags that no check
    could read yet are in it too, so that the next poll checks them again. Every record is
    kept. Publications stored by archlag 0.1 get an expectation now (see
    :func:`archlag.model.legacy_expectation`) and are written back by the first poll.
    """
    tags = dict(record.tags)
    legacy = {t for t, s in tags.items() if s.publication.expectation is None}
    for tag in sorted(legacy):
        old = tags[tag]
        expectation = legacy_expectation(old, platforms, tags.values())
        tags[tag] = replace(old, publication=replace(old.publication, expectation=expectation))
    state = RepositoryState(
        registry,
        repository,
        buckets,
        baseline_done=record.baseline_done,
        first_listed=dict(record.first_listed),
        absent_since=dict(record.absent_since),
        last_listing=record.last_listing,
        tags=tags,
        last_poll_success=record.last_poll_success,
        regressions=Counter(record.regressions),
        unsupported=Counter(record.unsupported),
        backfill=backfill,
        unsaved=legacy,
    )
    visible = [t for t in state.listed() if matches(t)]  # as a listing selects: unread too
    state.selected = tuple(select_tags(visible, state.first_listed, limit))
    for observation in record.observations:
        state.observe(observation.platform, observation.seconds, observation.estimated)
    return state
