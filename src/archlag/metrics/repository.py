"""One watched repository's samples, from its snapshot: tags, histograms and watch health.

Only what is in view is exported: the selected tags, and histograms and counters of the
platforms those tags have or expect. History outside the view stays in the state; a series
that comes back continues where it was. New counter and histogram label sets go through the
:class:`~archlag.metrics.hold.NewSeriesHold`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archlag.core.histograms import HistogramSnapshot
from archlag.core.outcomes import UNSUPPORTED_REASONS
from archlag.core.publication import OBSERVED
from archlag.core.snapshots import RepositorySnapshot, TagView
from archlag.core.status import WATCH_STATUSES
from archlag.metrics import text
from archlag.metrics.hold import Key, NewSeriesHold
from archlag.metrics.text import Lines, Spec, label_set, with_label

_CACHED = " (as of the last poll)"
AVAILABLE = Spec(
    "archlag_tag_platform_available",
    "gauge",
    "1 if the platform is present in the tag; 0 if expected but missing or regressed" + _CACHED,
)
PLATFORM_FIRST_SEEN = Spec(
    "archlag_tag_platform_first_seen_timestamp_seconds",
    "gauge",
    "When this platform of the tag's current publication was first seen",
)
LAST_ABSENT = Spec(
    "archlag_tag_platform_last_absent_timestamp_seconds",
    "gauge",
    "The last check that saw the tag without this platform: the platform appeared after it and "
    "by its first-seen time (absent when it was there at archlag's first look)",
)
TAG_FIRST_SEEN = Spec(
    "archlag_tag_first_seen_timestamp_seconds",
    "gauge",
    "When the tag's current publication was first seen (its earliest platform)",
)
COMPLETE = Spec(
    "archlag_tag_complete",
    "gauge",
    "1 when every platform the publication expects is present" + _CACHED,
)
SOURCE = Spec(
    "archlag_tag_platform_first_seen_source_info",
    "gauge",
    "Where the first-seen time came from when it was not archlag's own poll: source=registry "
    "(a push time a registry API reported) or source=event (a push event's time), when earlier "
    "and plausible; always 1 (a platform without it was first seen by a poll)",
)
SPREAD = Spec(
    "archlag_tag_publication_spread_seconds",
    "histogram",
    "Time from the first to the last expected platform, one observation per completed "
    "publication that archlag saw begin",
)
DELAY = Spec(
    "archlag_platform_publication_delay_seconds",
    "histogram",
    "Time from a publication's first platform to this platform, observed at completion",
)
SPREAD_ESTIMATED = Spec(
    "archlag_tag_publication_spread_estimated_seconds",
    "histogram",
    "Like archlag_tag_publication_spread_seconds, estimated from image build times for tags "
    "that were complete before archlag watched them (backfill); never mixed with measurements",
)
DELAY_ESTIMATED = Spec(
    "archlag_platform_publication_delay_estimated_seconds",
    "histogram",
    "Like archlag_platform_publication_delay_seconds, estimated from image build times (backfill)",
)
STALL = Spec("archlag_watch_stall_threshold_seconds", "gauge", "The watch's stall_after setting")
INTERVAL = Spec("archlag_watch_poll_interval_seconds", "gauge", "The watch's poll interval")
REGRESSIONS = Spec(
    "archlag_platform_regressions", "counter", "Platforms that vanished from a live publication"
)
POLL_ERRORS = Spec(
    "archlag_repository_poll_errors",
    "counter",
    "Polls of the repository that failed (registry errors, or archlag errors; see the log)",
)
UNSUPPORTED = Spec(
    "archlag_repository_unsupported_manifests",
    "counter",
    "Manifests archlag cannot read (reason: schema1, nested_too_deep, unknown_media_type...)",
)
STATUS = Spec(
    "archlag_watch_status",
    "gauge",
    "1 for the watch's current status (ok, not_found, denied, unauthorized, unreadable, "
    "unreachable, rate_limited, error; pending before the first poll), 0 for the others",
)
IGNORED = Spec(
    "archlag_watch_ignored_tags",
    "gauge",
    "Names in the latest tag listing that are not valid tags, ignored",
)
FAILING = Spec(
    "archlag_watch_failing_tags",
    "gauge",
    "Tags in view whose latest check failed (the status page says why)",
)
SUSPECT = Spec(
    "archlag_watch_suspect_listings",
    "counter",
    "Tag listings that dropped every tag, or most of them, at once; nothing left the view "
    "unless the next listing agreed",
)
FORGOTTEN = Spec(
    "archlag_watch_forgotten_names",
    "counter",
    "Absent tag names that never had a record, forgotten because the watch kept 1,000 such "
    "names (a registry listing fresh names at every poll)",
)

CHANGES = Spec(
    "archlag_watch_changes",
    "counter",
    "Tags whose content changed, by what made archlag look: detected_by=event (a push event "
    "named it) or detected_by=poll (the poll found it on its own)",
)
LAST_EVENT = Spec(
    "archlag_watch_last_event_timestamp_seconds",
    "gauge",
    "When a push event for this watch was last accepted (absent before the first)",
)
EXPECTED_DELAY = Spec(
    "archlag_platform_expected_delay_seconds",
    "gauge",
    "How long after a publication's first platform this platform usually appears in this "
    "repository: percentile 50 and 95 (nearest rank) of its last 20 measured delays",
)
EXPECTED_OBSERVATIONS = Spec(
    "archlag_platform_expected_delay_observations",
    "gauge",
    "How many measured delays archlag_platform_expected_delay_seconds rests on (at most 20); "
    "below the watch's lateness.min_observations, stall_after decides when it is late",
)
LATE_AFTER = Spec(
    "archlag_tag_platform_late_after_timestamp_seconds",
    "gauge",
    "When this missing platform of the tag becomes late: the tag's first-seen time plus the "
    "repository's p95 delay for it times lateness.margin, bounded to lateness.min and max, or "
    "plus stall_after while its history is too short; only for expected platforms never seen",
)

SPECS = (
    AVAILABLE, PLATFORM_FIRST_SEEN, LAST_ABSENT, TAG_FIRST_SEEN, COMPLETE, SOURCE, SPREAD,
    DELAY, SPREAD_ESTIMATED, DELAY_ESTIMATED, STALL, INTERVAL, REGRESSIONS, POLL_ERRORS,
    UNSUPPORTED, STATUS, IGNORED, FAILING, SUSPECT, FORGOTTEN, CHANGES, LAST_EVENT,
    EXPECTED_DELAY, EXPECTED_OBSERVATIONS, LATE_AFTER,
)  # fmt: skip


@dataclass(slots=True)
class RepositoryLines:
    """A repository's sample lines per family, and the series shown at zero for now."""

    families: dict[str, Lines] = field(default_factory=lambda: {s.name: Lines() for s in SPECS})
    held: set[Key] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class RepositoryChunks:
    """A repository's rendering: per family, its lines as bytes in the text and OpenMetrics
    formats (one object when they are the same), and the series shown at zero for now."""

    families: dict[str, tuple[bytes, bytes]]
    held: frozenset[Key]


def repository_lines(repo: RepositorySnapshot, hold: NewSeriesHold) -> RepositoryChunks:
    out = RepositoryLines()
    base = label_set(registry=repo.registry, repository=repo.repository)
    for view in repo.tags:
        _tag(out.families, base, view)
    _Held(out, hold, f"{repo.registry}/{repo.repository}").add_all(repo, base)
    _watch(out.families, base, repo)
    _lateness(out.families, base, repo)
    families = {name: lines.encoded() for name, lines in out.families.items()}
    return RepositoryChunks(families, frozenset(out.held))


def _tag(families: dict[str, Lines], base: str, view: TagView) -> None:
    publication = view.state.publication
    tag_labels = with_label(base, "tag", view.state.tag)
    families[TAG_FIRST_SEEN.name].add(
        text.sample(TAG_FIRST_SEEN.name, tag_labels, publication.first_seen)
    )
    families[COMPLETE.name].add(text.sample(COMPLETE.name, tag_labels, 1 if view.complete else 0))
    states = publication.platforms
    for platform in sorted(view.expected | states.keys()):
        state = states.get(platform)
        labels = with_label(tag_labels, "platform", str(platform))
        present = 1 if state is not None and state.present else 0
        families[AVAILABLE.name].add(text.sample(AVAILABLE.name, labels, present))
        if state is None:
            continue
        families[PLATFORM_FIRST_SEEN.name].add(
            text.sample(PLATFORM_FIRST_SEEN.name, labels, state.first_seen)
        )
        if state.last_absent is not None:
            families[LAST_ABSENT.name].add(text.sample(LAST_ABSENT.name, labels, state.last_absent))
        if state.source != OBSERVED:  # the common case says nothing: not repeated per platform
            source = with_label(labels, "source", state.source)
            families[SOURCE.name].add(text.sample(SOURCE.name, source, 1))


class _Held:
    """Writes one repository's counters and histograms through the hold."""

    def __init__(self, out: RepositoryLines, hold: NewSeriesHold, group: str) -> None:
        self._out = out
        self._hold = hold
        self._group = group

    def add_all(self, repo: RepositorySnapshot, base: str) -> None:
        empty = HistogramSnapshot.empty(repo.spread.bounds)
        self.histogram(SPREAD, base, repo.spread)
        in_view = repo.platforms
        for platform in sorted(in_view):
            labels = with_label(base, "platform", str(platform))
            self.histogram(DELAY, labels, repo.delays.get(platform, empty))
            self.counter(REGRESSIONS, labels, repo.figures.regressions.get(platform, 0))
        if repo.spread_estimated is not None:
            self.histogram(SPREAD_ESTIMATED, base, repo.spread_estimated)
            for platform, histogram in repo.delays_estimated.items():
                if platform in in_view:
                    labels = with_label(base, "platform", str(platform))
                    self.histogram(DELAY_ESTIMATED, labels, histogram)
        self.counter(POLL_ERRORS, base, repo.figures.poll_errors)
        self.counter(SUSPECT, base, repo.figures.suspect_listings)
        self.counter(FORGOTTEN, base, repo.figures.forgotten_names)
        for cause in ("poll", "event"):
            self.counter(
                CHANGES, with_label(base, "detected_by", cause), repo.figures.changes.get(cause, 0)
            )
        for reason in UNSUPPORTED_REASONS:
            labels = with_label(base, "reason", reason)
            self.counter(UNSUPPORTED, labels, repo.figures.unsupported.get(reason, 0))

    def histogram(self, spec: Spec, labels: str, value: HistogramSnapshot) -> None:
        key = (spec.name, labels)
        if not self._hold.shown(self._group, key, value.count > 0):
            self._out.held.add(key)
            value = HistogramSnapshot.empty(value.bounds)
        text.histogram(self._lines(spec), spec.name, labels, value, self._hold.created(key))

    def counter(self, spec: Spec, labels: str, value: float) -> None:
        key = (spec.name, labels)
        if not self._hold.shown(self._group, key, value > 0):
            self._out.held.add(key)
            value = 0
        text.counter(self._lines(spec), spec.name, labels, value, self._hold.created(key))

    def _lines(self, spec: Spec) -> Lines:
        return self._out.families[spec.name]


def _watch(families: dict[str, Lines], base: str, repo: RepositorySnapshot) -> None:
    families[STALL.name].add(text.sample(STALL.name, base, repo.stall_after))
    families[INTERVAL.name].add(text.sample(INTERVAL.name, base, repo.interval))
    for status in WATCH_STATUSES:
        value = 1 if repo.figures.status.reason == status else 0
        families[STATUS.name].add(
            text.sample(STATUS.name, with_label(base, "status", status), value)
        )
    families[IGNORED.name].add(text.sample(IGNORED.name, base, repo.figures.invalid_tags))
    families[FAILING.name].add(text.sample(FAILING.name, base, repo.failing))
    if repo.figures.last_event is not None:
        families[LAST_EVENT.name].add(text.sample(LAST_EVENT.name, base, repo.figures.last_event))


def _lateness(families: dict[str, Lines], base: str, repo: RepositorySnapshot) -> None:
    """Each platform in view's expectation, and when each missing platform becomes late (a
    fixed time: whether it is late now is rendered at every scrape, by metrics.live)."""
    expected, observations = families[EXPECTED_DELAY.name], families[EXPECTED_OBSERVATIONS.name]
    for platform in sorted(repo.platforms):
        labels = with_label(base, "platform", str(platform))
        found = repo.expected_delays.get(platform)
        observations.add(
            text.sample(EXPECTED_OBSERVATIONS.name, labels, found.observations if found else 0)
        )
        if found is None:
            continue
        for percentile, seconds in found.percentiles():
            ranked = with_label(labels, "percentile", percentile)
            expected.add(text.sample(EXPECTED_DELAY.name, ranked, seconds))
    late_after = families[LATE_AFTER.name]
    for pending in repo.deadlines:
        labels = label_set(
            registry=repo.registry,
            repository=repo.repository,
            tag=pending.tag,
            platform=str(pending.platform),
        )
        late_after.add(text.sample(LATE_AFTER.name, labels, pending.late_after))
