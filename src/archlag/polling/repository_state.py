"""What archlag knows about one watched repository, in memory: mutable, owned by its poller.

The poller changes a :class:`RepositoryState` only through its methods, and only after the
store has committed the same change (:meth:`RepositoryState.commit`), so memory never runs
ahead of disk. :meth:`RepositoryState.snapshot` returns frozen values that a scrape can render
on another thread. :func:`restore` rebuilds a state from the store's record at start.

History is kept apart from the view: ``tags`` holds the record of every tag archlag tracked
(including tags that left the listing or the ``tags.limit`` selection), ``selected`` is what is
shown and exported. A tag that comes back resumes its record.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace

from archlag.core.figures import WatchFigures
from archlag.core.histograms import Histogram
from archlag.core.lateness import Deadline, DelayHistory, LatenessRule, LatenessSettings, deadlines
from archlag.core.platforms import Platform
from archlag.core.publication import Completion, TagState, legacy_expectation, select_tags
from archlag.core.snapshots import RepositorySnapshot, TagView
from archlag.polling.listing import View
from archlag.store import PollRecord, RepositoryRecord, Timestamps


@dataclass(slots=True)
class RepositoryState:
    """Everything archlag knows about one watched repository."""

    registry: str
    repository: str
    buckets: tuple[float, ...]
    figures: WatchFigures = field(default_factory=WatchFigures)
    first_listed: dict[str, float] = field(default_factory=dict)  # present and absent tags
    absent_since: dict[str, float] = field(default_factory=dict)  # tags a listing confirmed gone
    missing_once: dict[str, float] = field(default_factory=dict)  # missing from one listing
    tags: dict[str, TagState] = field(default_factory=dict)  # every record, in view or not
    selected: tuple[str, ...] = ()
    backfill: bool = False
    tag_errors: dict[str, str] = field(default_factory=dict)
    unsaved: set[str] = field(default_factory=set)  # records fixed up at restore, to write
    # what quiet polls changed in memory only (see commit and quiet): times, written lazily
    pending_checks: dict[str, float] = field(default_factory=dict)  # tag -> last checked
    pending_times: bool = False
    generation: int = 0
    spread: Histogram = field(init=False)
    delays: dict[Platform, Histogram] = field(default_factory=dict)
    spread_estimated: Histogram = field(init=False)
    delays_estimated: dict[Platform, Histogram] = field(default_factory=dict)
    history: DelayHistory = field(default_factory=DelayHistory)  # measured delays, for lateness
    # the deadlines of the missing platforms in view, for a generation and a rule
    _deadlines: tuple[int, LatenessRule, tuple[Deadline, ...]] | None = field(
        default=None, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self.spread = Histogram(self.buckets)
        self.spread_estimated = Histogram(self.buckets)

    # -- changes -------------------------------------------------------------------------------

    def commit(
        self,
        record: PollRecord,
        *,
        view: View,
        replaced: Mapping[str, TagState],
        dropped: Iterable[str],
        looked_at: Collection[str],
        failed: Mapping[str, str],
        completions: Iterable[Completion],
        changes: Mapping[str, int],
    ) -> None:
        """Take over a poll that the store saved as ``record`` (with every time that quiet polls
        kept in memory): its figures, the listing's ``view``, the records it ``replaced`` and
        ``dropped``, why the tags it ``looked_at`` that ``failed`` failed, the new
        ``completions`` (observed once, here) and the tags with new content by cause."""
        self.figures = record.figures.changed(changes)
        self.first_listed = view.first_listed
        self.absent_since = view.absent_since
        self.missing_once = view.missing_once
        self.selected = view.selected
        self.tags.update(replaced)
        for tag in dropped:
            self.tags.pop(tag, None)
        self.unsaved = set()
        self.pending_checks, self.pending_times = {}, False
        kept = {t: m for t, m in self.tag_errors.items() if t not in looked_at} | dict(failed)
        self.tag_errors = {t: m for t, m in kept.items() if t in view.selected}
        self.record(completions)
        self.generation += 1

    def quiet(self, figures: WatchFigures, checked: Mapping[str, float]) -> None:
        """A poll that found nothing new: only times moved (the figures' poll times, when the
        ``checked`` tags were last looked at). Kept in memory, written later
        (:meth:`timestamps`); nothing a snapshot renders changes, so no new generation."""
        self.figures = figures
        for tag, at in checked.items():
            self.tags[tag] = replace(self.tags[tag], last_checked=at)
        self.pending_checks.update(checked)
        self.pending_times = True

    def timestamps(self) -> Timestamps | None:
        """What quiet polls kept in memory only, to write (None: nothing)."""
        if not self.pending_times and not self.pending_checks:
            return None
        figures = self.figures
        return Timestamps(
            self.registry,
            self.repository,
            figures.last_poll_success,
            figures.last_listing,
            dict(self.pending_checks),
        )

    def timestamps_saved(self, stamps: Timestamps) -> None:
        for tag, at in stamps.checked.items():
            if self.pending_checks.get(tag) == at:
                del self.pending_checks[tag]
        self.pending_times = False

    def failed(self, reason: str, message: str, now: float) -> None:
        """A poll that saved nothing: only its status and the error count change."""
        self.figures = self.figures.failed(reason, message, now)
        self.generation += 1

    def event_accepted(self, at: float) -> None:
        self.figures = self.figures.event_accepted(at)
        self.generation += 1

    def reconfigured(self) -> None:
        """The watch's settings changed: whatever a snapshot shows of them may differ."""
        self.generation += 1

    def record(self, completions: Iterable[Completion]) -> None:
        for completion in completions:
            self.observe(None, completion.spread, completion.estimated)
            for platform, delay in completion.delays.items():
                self.observe(platform, delay, completion.estimated)

    def observe(self, platform: Platform | None, seconds: float, estimated: bool) -> None:
        """Record a spread (``platform`` None) or a delay; estimates are kept apart, and only
        measured delays make the platform's expectation."""
        if platform is None:
            (self.spread_estimated if estimated else self.spread).observe(seconds)
            return
        if not estimated:
            self.history.observe(platform, seconds)
        delays = self.delays_estimated if estimated else self.delays
        if platform not in delays:
            delays[platform] = Histogram(self.buckets)
        delays[platform].observe(seconds)

    # -- reading -------------------------------------------------------------------------------

    def deadlines(self, rule: LatenessRule) -> tuple[Deadline, ...]:
        """When each missing platform of the tags in view is late (computed once per generation
        and rule: what a scrape asks at every scrape)."""
        cached = self._deadlines
        if cached is not None and cached[0] == self.generation and cached[1] == rule:
            return cached[2]
        views = (self.tags[t] for t in self.selected if t in self.tags)
        found = deadlines(views, self.history.expected(), rule)
        self._deadlines = (self.generation, rule, found)
        return found

    def snapshot(
        self,
        interval: float,
        stall_after: float,
        *,
        manifest_digests: bool = True,
        configured_platforms: frozenset[Platform] = frozenset(),
        lateness: LatenessSettings | None = None,
    ) -> RepositorySnapshot:
        lateness = lateness or LatenessSettings()
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
            spread=self.spread.snapshot(),
            delays={p: h.snapshot() for p, h in sorted(self.delays.items())},
            figures=self.figures,
            spread_estimated=self.spread_estimated.snapshot() if self.backfill else None,
            delays_estimated={p: h.snapshot() for p, h in sorted(self.delays_estimated.items())},
            generation=self.generation,
            manifest_digests=manifest_digests,
            configured_platforms=configured_platforms,
            unread={
                t: self.tag_errors[t]
                for t in self.selected
                if t not in self.tags and t in self.tag_errors
            },
            lateness=lateness,
            expected_delays=self.history.expected(),
            deadlines=self.deadlines(LatenessRule(lateness, stall_after)),
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
    :func:`archlag.core.publication.legacy_expectation`) and are written back by the first poll.
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
        figures=record.figures,
        first_listed=dict(record.first_listed),
        absent_since=dict(record.absent_since),
        tags=tags,
        backfill=backfill,
        unsaved=legacy,
    )
    visible = [t for t in state.listed() if matches(t)]  # as a listing selects: unread too
    state.selected = tuple(select_tags(visible, state.first_listed, limit))
    for observation in record.observations:
        state.observe(observation.platform, observation.seconds, observation.estimated)
    return state
