"""The publication model: pure logic over observations and a clock. No I/O happens here.

A *publication* is one release of a tag. Each poll that finds new content for a tag compares it
with the current publication platform by platform:

* at least one platform is in both and none of those shared platforms changed its manifest
  digest: the **same publication** (added platforms are late arrivals; dropped ones regress);
* otherwise a **new publication** starts (a moving tag such as ``latest``, or a rebuild), and
  every platform's first-seen time is the time of that poll;
* content with no platforms at all (an emptied index) regresses every platform of the current
  publication instead of replacing it, so the regression stays visible.

A publication's :class:`Expectation` is fixed when it begins (:func:`begin_expectations`): the
watch's configured platforms at that time, or the platforms of the tags older than it. A later
tag that brings a new platform never makes an older publication incomplete; only a platform that
really vanished (a regression) does.

A publication is *complete* when every expected platform is present. The first time a complete
publication is seen after archlag saw it begin, one :class:`Completion` (spread and per-platform
delays) is produced; a publication that was already complete at the repository's first poll is a
*baseline* and never produces one, because its history was not seen.

Precision: a platform's first-seen time is when a check first saw it; the truth lies after the
last check that saw the tag without it (``last_absent``), so each first-seen time is late by at
most ``first_seen - last_absent`` (:func:`uncertainty`).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from archlag.core.platforms import Platform

EXPECTED_FROM_RECENT_TAGS = 3  # learned expectations: union of this many most recent older tags

# Where a first-seen time came from: archlag's look, a registry API's push time, a push event.
OBSERVED, REGISTRY, EVENT = "observed", "registry", "event"
SOURCES = (OBSERVED, REGISTRY, EVENT)

# What a publication's expected platforms were fixed from (Expectation.basis):
CONFIGURED = "configured"  # the watch's `platforms` when the publication began
LEARNED = "learned"  # the platforms of the most recent tags older than the publication
OWN = "own"  # nothing to learn from: only what the publication itself has
LEGACY = "legacy"  # from a state file of archlag 0.1: the platforms it had when judged complete
BASES = (CONFIGURED, LEARNED, OWN, LEGACY)


@dataclass(frozen=True, slots=True)
class Expectation:
    """The platforms a publication is judged by, and where they came from."""

    platforms: frozenset[Platform] = frozenset()
    basis: str = OWN
    learned_from: tuple[str, ...] = ()  # the older tags, for LEARNED


@dataclass(frozen=True, slots=True)
class PlatformState:
    digest: str
    first_seen: float
    present: bool = True
    source: str = OBSERVED  # REGISTRY when a registry's push time was earlier than archlag's look
    # The last check at which the tag was seen without this platform: the true first appearance
    # lies after it. None when the platform was there the first time archlag looked.
    last_absent: float | None = None


@dataclass(frozen=True, slots=True)
class Publication:
    seq: int  # 1 for a tag's first publication, +1 for each replacement
    first_seen: float  # when its earliest platform was first seen
    platforms: Mapping[Platform, PlatformState] = field(default_factory=dict)
    baseline: bool = False  # complete at the repository's first poll: never observed
    observed: bool = False  # its Completion has been recorded
    expectation: Expectation | None = None  # None only until begin_expectations() fixes it

    @property
    def present(self) -> frozenset[Platform]:
        return frozenset(p for p, s in self.platforms.items() if s.present)

    @property
    def expected(self) -> frozenset[Platform]:
        return self.expectation.platforms if self.expectation is not None else frozenset()

    @property
    def complete(self) -> bool:
        present = self.present
        return bool(present) and self.expected <= present

    @property
    def completed_at(self) -> float | None:
        """When the last expected platform appeared, if the publication is complete."""
        if not self.complete:
            return None
        wanted = self.expected or self.present
        return max(self.platforms[p].first_seen for p in wanted)


@dataclass(frozen=True, slots=True)
class TagState:
    tag: str
    digest: str  # digest of the manifest the tag pointed at when last checked
    publication: Publication
    last_checked: float


@dataclass(frozen=True, slots=True)
class Content:
    """What one look at a tag found: its top-level digest and each platform's manifest digest.

    ``pushed`` holds push times a registry reported for platforms (Docker Hub's per-image
    ``last_pushed``, Quay's ``start_ts``): a platform's first-seen time is the earlier of that and
    archlag's own look, when it is plausible (see :meth:`first_seen`).
    """

    digest: str
    platforms: Mapping[Platform, str]
    pushed: Mapping[Platform, float] = field(default_factory=dict)
    built: Mapping[Platform, float] = field(default_factory=dict)  # image config `created`
    announced: float | None = None  # when a push event says the tag was pushed (the latest)

    def first_seen(
        self, platform: Platform, now: float, last_absent: float | None = None
    ) -> PlatformState:
        """A new platform's state: seen now, or earlier when the registry or an event says so.

        A push time counts only when it is earlier than the look and later than the last check
        that saw the tag without the platform: an image manifest pushed by digest long before an
        index named it says nothing about when the tag got it, and a time from a registry whose
        clock runs ahead is not believed. Of several plausible times the earliest wins.
        """
        floor = 0.0 if last_absent is None else last_absent
        digest = self.platforms[platform]
        hints = [(self.pushed.get(platform), REGISTRY), (self.announced, EVENT)]
        plausible = [(t, source) for t, source in hints if t is not None and floor < t < now]
        if plausible:
            at, source = min(plausible)
            return PlatformState(digest, at, source=source, last_absent=last_absent)
        return PlatformState(digest, now, last_absent=last_absent)


@dataclass(frozen=True, slots=True)
class Completion:
    tag: str
    seq: int
    first_seen: float  # the publication's first-seen time
    spread: float  # last expected platform's first-seen minus the publication's first-seen
    delays: Mapping[Platform, float]  # each present platform's first-seen minus the publication's
    estimated: bool = False  # from image build times (backfill), never mixed with measurements


@dataclass(frozen=True, slots=True)
class Outcome:
    state: TagState
    regressions: tuple[Platform, ...] = ()
    new_publication: bool = False


def apply_content(
    previous: TagState | None,
    tag: str,
    content: Content,
    now: float,
    *,
    absent_at: float | None = None,
) -> Outcome:
    """Apply what one look at a tag found; ``now`` becomes its last-checked time.

    ``absent_at`` is the latest time the tag was known not to exist (a listing without it), if
    any: together with the previous check it bounds when new platforms really appeared.
    """
    bounds = [t for t in (absent_at, previous.last_checked if previous else None) if t]
    last_absent = max(bounds) if bounds else None
    if previous is None:
        publication = _fresh(1, content, now, last_absent)
        return Outcome(TagState(tag, content.digest, publication, now), (), True)
    continued, regressions = _continue(previous.publication, content, now, last_absent)
    if continued is None:
        publication = _fresh(previous.publication.seq + 1, content, now, last_absent)
        return Outcome(TagState(tag, content.digest, publication, now), (), True)
    return Outcome(TagState(tag, content.digest, continued, now), regressions, False)


def settle(
    state: TagState, *, baseline_candidate: bool = False
) -> tuple[TagState, Completion | None]:
    """Check a tag against its publication's expectation after a poll.

    ``baseline_candidate`` is true for a publication created in this poll that archlag did not
    see begin (the repository's first poll, or a tag that was listed before but not tracked):
    if it is already complete it becomes a baseline and is never observed. Otherwise the first
    time a publication is complete it yields its :class:`Completion`, exactly once.
    """
    publication = state.publication
    if publication.observed or publication.baseline or not publication.complete:
        return state, None
    if baseline_candidate:
        return replace(state, publication=replace(publication, baseline=True)), None
    completion = _completion(state.tag, publication)
    return replace(state, publication=replace(publication, observed=True)), completion


def _fresh(seq: int, content: Content, now: float, last_absent: float | None) -> Publication:
    platforms = {p: content.first_seen(p, now, last_absent) for p in content.platforms}
    start = min((s.first_seen for s in platforms.values()), default=now)
    return Publication(seq, start, platforms)


def _continue(
    current: Publication, content: Content, now: float, last_absent: float | None
) -> tuple[Publication | None, tuple[Platform, ...]]:
    """The same publication updated with ``content``, or None if ``content`` replaces it."""
    present = {p: s for p, s in current.platforms.items() if s.present}
    shared = present.keys() & content.platforms.keys()
    if content.platforms and (
        not shared or any(present[p].digest != content.platforms[p] for p in shared)
    ):
        return None, ()
    platforms = dict(current.platforms)
    for platform, digest in content.platforms.items():
        old = platforms.get(platform)
        if old is None:
            platforms[platform] = content.first_seen(platform, now, last_absent)
        else:
            platforms[platform] = replace(old, digest=digest, present=True)
    gone = tuple(sorted(p for p in present if p not in content.platforms))
    for platform in gone:
        platforms[platform] = replace(platforms[platform], present=False)
    start = min([current.first_seen, *(s.first_seen for s in platforms.values())])
    return replace(current, first_seen=start, platforms=platforms), gone


def _completion(tag: str, publication: Publication) -> Completion:
    start = publication.first_seen
    present = {p: s for p, s in publication.platforms.items() if s.present}
    last = max(present[p].first_seen for p in (publication.expected or present.keys()))
    delays = {p: s.first_seen - start for p, s in present.items()}
    return Completion(tag, publication.seq, start, last - start, delays)


def learned_expectation(tag: str, start: float, others: Iterable[TagState]) -> Expectation:
    """What a publication of ``tag`` that began at ``start`` expects without configuration.

    The union of the present platforms of the :data:`EXPECTED_FROM_RECENT_TAGS` most recent tags
    *older* than it: an earlier first-seen time, or (tags seen together, as at a repository's
    first poll) the same time and a lower version. A tag with nothing older expects only what it
    has (:data:`OWN`).
    """
    mine = (start, version_key(tag))
    older = [
        s
        for s in others
        if s.tag != tag
        and s.publication.present
        and (s.publication.first_seen, version_key(s.tag)) < mine
    ]
    recent = heapq.nlargest(
        EXPECTED_FROM_RECENT_TAGS,
        older,
        key=lambda s: (s.publication.first_seen, version_key(s.tag)),
    )
    if not recent:
        return Expectation(frozenset(), OWN)
    platforms = frozenset().union(*(s.publication.present for s in recent))
    return Expectation(platforms, LEARNED, tuple(s.tag for s in recent))


def expectation_for(
    tag: str, start: float, configured: frozenset[Platform], others: Iterable[TagState]
) -> Expectation:
    """The expectation a publication gets when it begins (configured wins over learned)."""
    if configured:
        return Expectation(configured, CONFIGURED)
    return learned_expectation(tag, start, others)


def fix_expectations(
    tags: Mapping[str, TagState], pending: Iterable[str], configured: frozenset[Platform]
) -> dict[str, TagState]:
    """The ``pending`` tags of ``tags`` whose publication has no expectation yet, with one.

    Learning looks at every other tag's current publication in ``tags``, including those that
    began in the same poll, so the result does not depend on order. Costs nothing for a tag that
    has its expectation already; ``tags`` is read only to learn.
    """
    changed = {}
    for tag in pending:
        state = tags[tag]
        publication = state.publication
        if publication.expectation is not None:
            continue
        expectation = expectation_for(tag, publication.first_seen, configured, tags.values())
        changed[tag] = replace(state, publication=replace(publication, expectation=expectation))
    return changed


def begin_expectations(
    tags: dict[str, TagState], configured: frozenset[Platform]
) -> dict[str, TagState]:
    """Fix the expectation of every publication in ``tags`` that has none yet (in place).

    Returns the tags that changed (see :func:`fix_expectations`).
    """
    changed = fix_expectations(tags, list(tags), configured)
    tags.update(changed)
    return changed


def legacy_expectation(
    state: TagState, configured: frozenset[Platform], others: Iterable[TagState]
) -> Expectation:
    """An expectation for a publication stored by archlag 0.1, which kept none.

    One that was judged complete (observed or a baseline) keeps the platforms it had then, so
    that it stays complete unless one of them regressed; any other gets today's rule.
    """
    publication = state.publication
    if publication.observed or publication.baseline:
        return Expectation(frozenset(publication.platforms), LEGACY)
    return expectation_for(state.tag, publication.first_seen, configured, others)


def uncertainty(state: PlatformState) -> float | None:
    """How late a first-seen time may be: seconds since the last check without the platform.

    0 for times a registry reported; None when the platform was there at archlag's first look.
    """
    if state.source != OBSERVED:
        return 0.0
    if state.last_absent is None:
        return None
    return max(state.first_seen - state.last_absent, 0.0)


def delay_uncertainty(publication: Publication, platform: Platform) -> float | None:
    """A bound on the error of a platform's delay after the publication's first platform.

    Both ends are late by up to their own uncertainty, so the measured delay is off by less than
    the larger of the two; None when either end was there at archlag's first look.
    """
    state = publication.platforms.get(platform)
    if state is None:
        return None
    first = min(publication.platforms.values(), key=lambda s: s.first_seen)
    bounds = (uncertainty(state), uncertainty(first))
    if bounds[0] is None or bounds[1] is None:
        return None
    return max(bounds[0], bounds[1])


_CHUNKS = re.compile(r"(\d+)")


def version_key(tag: str) -> tuple[tuple[int, int, str], ...]:
    """A numeric-aware sort key: ``2.10.0`` sorts after ``2.9.0``; numbers sort after words."""
    return tuple(
        (1, int(chunk), "") if chunk.isdigit() else (0, 0, chunk)
        for chunk in _CHUNKS.split(tag)
        if chunk
    )


def select_tags(listed: Iterable[str], first_listed: Mapping[str, float], limit: int) -> list[str]:
    """The ``limit`` newest of ``listed``: latest first-listed time, then highest version."""
    return heapq.nlargest(
        limit, listed, key=lambda t: (first_listed.get(t, float("inf")), version_key(t))
    )


EARLIEST_PLAUSIBLE_BUILD = 978307200.0  # 2001-01-01: reproducible builds stamp 1970 or 1980


def estimate(
    state: TagState, created: Mapping[Platform, float | None], now: float
) -> Completion | None:
    """A backfill estimate for a baseline publication from its images' build (``created``) times.

    Only when every expected (or, without expectations, present) platform has a plausible build
    time: reproducible builders stamp fixed dates, which say nothing about publication.
    """
    publication = state.publication
    wanted = publication.expected or publication.present
    times = {p: created.get(p) for p in publication.present}
    if not wanted or not wanted <= publication.present:
        return None
    plausible = {p: t for p, t in times.items() if t and EARLIEST_PLAUSIBLE_BUILD < t <= now}
    if not wanted <= plausible.keys():
        return None
    start = min(plausible.values())
    last = max(plausible[p] for p in wanted)
    delays = {p: t - start for p, t in plausible.items()}
    return Completion(
        state.tag, publication.seq, publication.first_seen, last - start, delays, True
    )
