"""The publication model: pure logic over observations and a clock. No I/O happens here.

A *publication* is one release of a tag. Each poll that finds new content for a tag compares it
with the current publication platform by platform:

* at least one platform is in both and none of those shared platforms changed its manifest
  digest: the **same publication** (added platforms are late arrivals; dropped ones regress);
* otherwise a **new publication** starts (a moving tag such as ``latest``, or a rebuild), and
  every platform's first-seen time is the time of that poll;
* content with no platforms at all (an emptied index) regresses every platform of the current
  publication instead of replacing it, so the regression stays visible.

A publication is *complete* when every expected platform is present. The first time a complete
publication is seen after archlag saw it begin, one :class:`Completion` (spread and per-platform
delays) is produced; a publication that was already complete at the repository's first poll is a
*baseline* and never produces one, because its history was not seen.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from archlag.platforms import Platform

EXPECTED_FROM_RECENT_TAGS = 3  # learned expectations: union of this many most recent other tags


OBSERVED, REGISTRY = "observed", "registry"  # where a first-seen time came from


@dataclass(frozen=True, slots=True)
class PlatformState:
    digest: str
    first_seen: float
    present: bool = True
    source: str = OBSERVED  # REGISTRY when a registry's push time was earlier than archlag's look


@dataclass(frozen=True, slots=True)
class Publication:
    seq: int  # 1 for a tag's first publication, +1 for each replacement
    first_seen: float  # when its earliest platform was first seen
    platforms: Mapping[Platform, PlatformState] = field(default_factory=dict)
    baseline: bool = False  # complete at the repository's first poll: never observed
    observed: bool = False  # its Completion has been recorded

    @property
    def present(self) -> frozenset[Platform]:
        return frozenset(p for p, s in self.platforms.items() if s.present)

    def is_complete(self, expected: frozenset[Platform]) -> bool:
        present = self.present
        return bool(present) and expected <= present


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
    archlag's own look.
    """

    digest: str
    platforms: Mapping[Platform, str]
    pushed: Mapping[Platform, float] = field(default_factory=dict)
    built: Mapping[Platform, float] = field(default_factory=dict)  # image config `created`

    def first_seen(self, platform: Platform, now: float) -> PlatformState:
        """A new platform's state: seen now, or when the registry says it was pushed, if earlier."""
        pushed = self.pushed.get(platform)
        if pushed is not None and 0 < pushed < now:
            return PlatformState(self.platforms[platform], pushed, source=REGISTRY)
        return PlatformState(self.platforms[platform], now)


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


def apply_content(previous: TagState | None, tag: str, content: Content, now: float) -> Outcome:
    """Apply what one look at a tag found; ``now`` becomes its last-checked time."""
    if previous is None:
        return Outcome(TagState(tag, content.digest, _fresh(1, content, now), now), (), True)
    publication, regressions = _continue(previous.publication, content, now)
    if publication is None:
        publication = _fresh(previous.publication.seq + 1, content, now)
        return Outcome(TagState(tag, content.digest, publication, now), (), True)
    return Outcome(TagState(tag, content.digest, publication, now), regressions, False)


def settle(
    state: TagState, expected: frozenset[Platform], *, baseline_candidate: bool = False
) -> tuple[TagState, Completion | None]:
    """Check a tag against its expected platforms after a poll.

    ``baseline_candidate`` is true for a publication created in this poll that archlag did not
    see begin (the repository's first poll, or a tag that was listed before but not tracked):
    if it is already complete it becomes a baseline and is never observed. Otherwise the first
    time a publication is complete it yields its :class:`Completion`, exactly once.
    """
    publication = state.publication
    if publication.observed or publication.baseline or not publication.is_complete(expected):
        return state, None
    if baseline_candidate:
        return replace(state, publication=replace(publication, baseline=True)), None
    completion = _completion(state.tag, publication, expected)
    return replace(state, publication=replace(publication, observed=True)), completion


def _fresh(seq: int, content: Content, now: float) -> Publication:
    platforms = {p: content.first_seen(p, now) for p in content.platforms}
    start = min((s.first_seen for s in platforms.values()), default=now)
    return Publication(seq, start, platforms)


def _continue(
    current: Publication, content: Content, now: float
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
            platforms[platform] = content.first_seen(platform, now)
        else:
            platforms[platform] = replace(old, digest=digest, present=True)
    gone = tuple(sorted(p for p in present if p not in content.platforms))
    for platform in gone:
        platforms[platform] = replace(platforms[platform], present=False)
    start = min([current.first_seen, *(s.first_seen for s in platforms.values())])
    return replace(current, first_seen=start, platforms=platforms), gone


def _completion(tag: str, publication: Publication, expected: frozenset[Platform]) -> Completion:
    start = publication.first_seen
    present = {p: s for p, s in publication.platforms.items() if s.present}
    last = max(present[p].first_seen for p in (expected or present.keys()))
    delays = {p: s.first_seen - start for p, s in present.items()}
    return Completion(tag, publication.seq, start, last - start, delays)


def expected_platforms(
    configured: frozenset[Platform], states: Mapping[str, TagState]
) -> dict[str, frozenset[Platform]]:
    """Expected platforms of every tag in ``states``.

    The configured set when there is one; otherwise the union of the present platforms of the
    repository's three most recently first-seen *other* tags (version order breaks ties). A tag
    with no other tags to learn from expects only what it has.
    """
    if configured:
        return dict.fromkeys(states, configured)
    recent = sorted(
        states.values(),
        key=lambda s: (s.publication.first_seen, version_key(s.tag)),
        reverse=True,
    )[: EXPECTED_FROM_RECENT_TAGS + 1]
    result = {}
    for tag in states:
        others = [s for s in recent if s.tag != tag][:EXPECTED_FROM_RECENT_TAGS]
        result[tag] = frozenset().union(*(s.publication.present for s in others))
    return result


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
    state: TagState,
    created: Mapping[Platform, float | None],
    expected: frozenset[Platform],
    now: float,
) -> Completion | None:
    """A backfill estimate for a baseline publication from its images' build (``created``) times.

    Only when every expected (or, without expectations, present) platform has a plausible build
    time: reproducible builders stamp fixed dates, which say nothing about publication.
    """
    publication = state.publication
    wanted = expected or publication.present
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
