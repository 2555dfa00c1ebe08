"""Frozen snapshots of the running exporter, which metrics, the read API and the status page
read (on any thread): one :class:`RepositorySnapshot` per watch, gathered in a
:class:`Snapshot`, and the figures that change with every request (registries' limits, request
and push-event counts, the process's health) in a :class:`LiveSnapshot`.

Only what is running is in a snapshot: a watch, registry or receiver that a reload removed is
not, so its series leave ``/metrics``.

A snapshot holds references to frozen values (tag states, :class:`WatchFigures`, histogram
snapshots); taking one copies nothing that a poll could change afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from archlag.core.figures import WatchFigures
from archlag.core.histograms import HistogramSnapshot
from archlag.core.lateness import Deadline, ExpectedDelay, LatenessRule, LatenessSettings
from archlag.core.platforms import Platform
from archlag.core.publication import TagState
from archlag.core.status import PENDING, REGISTRY_PROBLEMS


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
    spread: HistogramSnapshot
    delays: Mapping[Platform, HistogramSnapshot]
    figures: WatchFigures = field(default_factory=WatchFigures)
    spread_estimated: HistogramSnapshot | None = None  # backfill estimates, when enabled
    delays_estimated: Mapping[Platform, HistogramSnapshot] = field(default_factory=dict)
    generation: int = 0  # changes whenever anything in this snapshot may have changed
    # False for watches with platform_tags: a tag's digest then combines several manifests
    manifest_digests: bool = True
    configured_platforms: frozenset[Platform] = frozenset()  # the watch's `platforms`
    # tags in view that no check could read yet (no record): why their latest check failed
    unread: Mapping[str, str] = field(default_factory=dict)
    lateness: LatenessSettings = field(default_factory=LatenessSettings)  # the watch's setting
    # each platform's expectation, from the repository's measured delays (core.lateness)
    expected_delays: Mapping[Platform, ExpectedDelay] = field(default_factory=dict)
    deadlines: tuple[Deadline, ...] = ()  # every missing platform of the tags in view

    @property
    def rule(self) -> LatenessRule:
        return LatenessRule(self.lateness, self.stall_after)

    def deadlines_by_tag(self) -> dict[tuple[str, Platform], Deadline]:
        return {(d.tag, d.platform): d for d in self.deadlines}

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
class RunningImage:
    """Containers that run one image reference on one platform, counted per source."""

    registry: str
    repository: str
    tag: str | None  # as referenced (None for a reference by digest only)
    digest: str | None  # the digest referenced or known to run (an index's or a manifest's)
    platform: Platform
    containers: Mapping[str, int] = field(default_factory=dict)  # source -> count


@dataclass(frozen=True, slots=True)
class RunningStatus:
    """A running image judged against what its repository publishes."""

    image: RunningImage
    tag: str | None  # the tag that runs: as referenced, or the tag in view a digest belongs to
    state: str  # one of archlag.core.updates.STATES
    newest: str | None = None  # the newest release of the same shape published for the platform
    waiting_for: str | None = None  # the newer release that lacks the platform (when waiting)
    waiting_since: float | None = None  # when that newer release was first seen
    reason: str = ""  # why it is unknown (for people)


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One discovery source as the last look left it."""

    source: str  # kubernetes, docker, files
    up: bool
    images: int  # images it found running
    over_limit: int = 0  # images left out by the bound on discovered images
    reason: str = ""  # why it is down (sanitised)


@dataclass(frozen=True, slots=True)
class RequestFigures:
    """archlag's own requests to one registry (or push-time API), by method and result."""

    registry: str
    requests: Mapping[tuple[str, str], int]  # (method, result) -> count
    durations: HistogramSnapshot  # seconds per request


@dataclass(frozen=True, slots=True)
class ReceiverFigures:
    """What one push-event receiver got."""

    receiver: str
    received: Mapping[str, int]  # by result: accepted, ignored, unauthorized, ...
    last_proven: float | None  # the last request that proved the receiver's secret
    check_delays: HistogramSnapshot  # push time to the end of the check it caused


@dataclass(frozen=True, slots=True)
class ListenerFigures:
    """One HTTP listener's connections (``main``, or ``events`` for ``events_listen``)."""

    listener: str
    open_connections: int = 0
    shed: Mapping[str, int] = field(default_factory=dict)  # by reason: listener_full, ...
    unauthorized: int = 0  # requests refused for want of valid Basic credentials


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """What ``/metrics`` renders at every scrape: small, and changing with every request."""

    registries: tuple[RegistryStatus, ...] = ()
    requests: tuple[RequestFigures, ...] = ()
    receivers: tuple[ReceiverFigures, ...] = ()
    state_file_ok: bool = True
    version: str = ""
    shard_ordinal: int = 0
    total_shards: int = 1
    reload_successful: bool = True
    reload_success_time: float | None = None
    # per watch (registry, repository): its last poll without errors; it moves at every quiet
    # poll, which renders nothing else again
    last_poll_success: Mapping[tuple[str, str], float] = field(default_factory=dict)
    running: tuple[RunningStatus, ...] = ()  # what runs, judged per platform (discovery)
    discovery: tuple[SourceStatus, ...] = ()  # the discovery sources
    listeners: tuple[ListenerFigures, ...] = ()
    # --web.config.file: None when not given; else whether the last read of it was good
    web_config_successful: bool | None = None
    web_config_success_time: float | None = None
    # per watch: its missing platforms' deadlines, which say at each scrape whether one is late
    deadlines: Mapping[tuple[str, str], tuple[Deadline, ...]] = field(default_factory=dict)
    taken_at: float = field(default_factory=time.time)  # the scrape's now


@dataclass(frozen=True, slots=True)
class Snapshot:
    repositories: tuple[RepositorySnapshot, ...]

    def registries_up(self) -> dict[str, bool]:
        """Per registry: down while the latest poll of one of its watches could not reach it.

        A repository that does not exist, or that denies archlag, is that watch's problem, not
        the registry's. Unknown before the first poll.
        """
        up: dict[str, bool] = {}
        for repo in self.repositories:
            reason = repo.figures.status.reason
            if reason != PENDING:
                reachable = reason not in REGISTRY_PROBLEMS
                up[repo.registry] = up.get(repo.registry, True) and reachable
        return up
