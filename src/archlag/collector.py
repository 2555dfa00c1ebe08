"""Prometheus metrics built from a snapshot at scrape time.

:func:`snapshot_families` turns a fresh :class:`~archlag.state.Snapshot` into metric families on
every scrape, so a tag that left the selection is simply absent from the next one. It knows
nothing about registries or SQLite. :func:`render` writes families in the Prometheus text format
or in OpenMetrics. It exists because prometheus-client's generic writer validates and escapes
every label of every sample, which took over a second for 10,000 tags x 4 platforms; here each
label set is escaped once per tag and reused by all of the tag's samples.

:class:`RequestMetrics` is ordinary prometheus-client instrumentation of archlag's own registry
requests; the HTTP app appends its exposition to the snapshot's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

from archlag.state import HistogramSnapshot, RepositorySnapshot, Snapshot

REQUEST_RESULTS = frozenset(
    {"ok", "not_found", "unauthorized", "rate_limited", "server_error", "timeout", "error"}
)
REQUEST_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_CACHED = " (as of the last poll)"


@dataclass(slots=True)
class Family:
    """One metric family; samples hold pre-rendered label sets (``{a="1",b="2"}`` or "")."""

    name: str  # for counters, without the _total suffix
    kind: str  # "gauge", "counter" or "histogram"
    help: str
    samples: list[tuple[str, str, float]] = field(default_factory=list)  # suffix, labels, value

    def add(self, labels: str, value: float, suffix: str = "") -> None:
        self.samples.append((suffix, labels, value))

    def add_histogram(self, labels: str, histogram: HistogramSnapshot) -> None:
        inner = labels[1:-1] + "," if labels else ""
        for bound, count in zip(histogram.bounds, histogram.cumulative, strict=False):
            self.samples.append(("_bucket", f'{{{inner}le="{_number(bound)}"}}', count))
        self.samples.append(("_bucket", f'{{{inner}le="+Inf"}}', histogram.count))
        self.samples.append(("_count", labels, histogram.count))
        self.samples.append(("_sum", labels, histogram.total))


def label_set(**labels: str) -> str:
    """``{name="value",...}`` with values escaped for both exposition formats."""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def render(families: Iterable[Family], *, openmetrics: bool = False) -> str:
    """Families in the Prometheus text format 0.0.4, or OpenMetrics 1.0 (without ``# EOF``)."""
    out: list[str] = []
    for family in families:
        header = family.name
        if family.kind == "counter" and not openmetrics:
            header += "_total"
        out.append(f"# HELP {header} {family.help}\n# TYPE {header} {family.kind}\n")
        counter = "_total" if family.kind == "counter" else ""
        name = family.name
        out.extend(
            f"{name}{suffix or counter}{labels} {_number(value)}\n"
            for suffix, labels, value in family.samples
        )
    return "".join(out)


def snapshot_families(snapshot: Snapshot, version: str) -> list[Family]:
    families = [*_tag_families(snapshot.repositories), *_histogram_families(snapshot.repositories)]
    families += _watch_families(snapshot)
    families += _registry_families(snapshot)
    info = Family("archlag_build_info", "gauge", "archlag version; always 1")
    info.add(label_set(version=version), 1)
    families.append(info)
    return families


def _tag_families(repositories: Sequence[RepositorySnapshot]) -> list[Family]:
    available = Family(
        "archlag_tag_platform_available",
        "gauge",
        "1 if the platform is present in the tag; 0 if expected but missing or regressed" + _CACHED,
    )
    platform_seen = Family(
        "archlag_tag_platform_first_seen_timestamp_seconds",
        "gauge",
        "When this platform of the tag's current publication was first seen",
    )
    tag_seen = Family(
        "archlag_tag_first_seen_timestamp_seconds",
        "gauge",
        "When the tag's current publication was first seen (its earliest platform)",
    )
    complete = Family(
        "archlag_tag_complete", "gauge", "1 when every expected platform is present" + _CACHED
    )
    source = Family(
        "archlag_tag_platform_first_seen_source_info",
        "gauge",
        "Where the first-seen time came from: source=observed (archlag's poll) or "
        "source=registry (a push time the registry reported, when earlier); always 1",
    )
    for repo in repositories:
        repo_labels = label_set(registry=repo.registry, repository=repo.repository)[1:-1]
        for view in repo.tags:
            publication = view.state.publication
            tag_labels = f'{repo_labels},tag="{_escape(view.state.tag)}"'
            tag_seen.add("{" + tag_labels + "}", publication.first_seen)
            complete.add("{" + tag_labels + "}", 1 if view.complete else 0)
            states = publication.platforms
            for platform in sorted(view.expected | states.keys()):
                state = states.get(platform)
                labels = f'{{{tag_labels},platform="{_escape(str(platform))}"}}'
                available.add(labels, 1 if state and state.present else 0)
                if state is not None:
                    platform_seen.add(labels, state.first_seen)
                    source.add(f'{labels[:-1]},source="{state.source}"}}', 1)
    return [available, platform_seen, tag_seen, complete, source]


def _histogram_families(repositories: Sequence[RepositorySnapshot]) -> list[Family]:
    spread = Family(
        "archlag_tag_publication_spread_seconds",
        "histogram",
        "Time from the first to the last expected platform, one observation per completed "
        "publication that archlag saw begin",
    )
    delay = Family(
        "archlag_platform_publication_delay_seconds",
        "histogram",
        "Time from a publication's first platform to this platform, observed at completion",
    )
    spread_estimated = Family(
        "archlag_tag_publication_spread_estimated_seconds",
        "histogram",
        "Like archlag_tag_publication_spread_seconds, estimated from image build times for tags "
        "that were complete before archlag watched them (backfill); never mixed with measurements",
    )
    delay_estimated = Family(
        "archlag_platform_publication_delay_estimated_seconds",
        "histogram",
        "Like archlag_platform_publication_delay_seconds, estimated from image build times "
        "(backfill)",
    )
    for repo in repositories:
        labels = label_set(registry=repo.registry, repository=repo.repository)
        spread.add_histogram(labels, repo.spread)
        # Every expected platform gets a histogram from the start, so increase() sees the first
        # observation of each platform too.
        empty = HistogramSnapshot(repo.spread.bounds, (0,) * len(repo.spread.cumulative), 0.0)
        platforms = {p for view in repo.tags for p in view.expected} | repo.delays.keys()
        for platform in sorted(platforms):
            delay.add_histogram(
                label_set(
                    registry=repo.registry, repository=repo.repository, platform=str(platform)
                ),
                repo.delays.get(platform, empty),
            )
        if repo.spread_estimated is not None:
            spread_estimated.add_histogram(labels, repo.spread_estimated)
            for platform, histogram in repo.delays_estimated.items():
                delay_estimated.add_histogram(
                    label_set(
                        registry=repo.registry, repository=repo.repository, platform=str(platform)
                    ),
                    histogram,
                )
    return [spread, delay, spread_estimated, delay_estimated]


def _watch_families(snapshot: Snapshot) -> list[Family]:
    threshold = Family(
        "archlag_watch_stall_threshold_seconds", "gauge", "The watch's stall_after setting"
    )
    interval = Family("archlag_watch_poll_interval_seconds", "gauge", "The watch's poll interval")
    regressions = Family(
        "archlag_platform_regressions", "counter", "Platforms that vanished from a live publication"
    )
    last_success = Family(
        "archlag_repository_last_poll_success_timestamp_seconds",
        "gauge",
        "When the repository was last polled without errors",
    )
    poll_errors = Family(
        "archlag_repository_poll_errors",
        "counter",
        "Polls of the repository that failed (registry errors, or archlag errors; see the log)",
    )
    for repo in snapshot.repositories:
        labels = label_set(registry=repo.registry, repository=repo.repository)
        threshold.add(labels, repo.stall_after)
        interval.add(labels, repo.interval)
        poll_errors.add(labels, repo.poll_errors)
        if repo.last_poll_success is not None:
            last_success.add(labels, repo.last_poll_success)
        seen = {p for v in repo.tags for p in v.expected | v.state.publication.platforms.keys()}
        for platform in sorted(seen | repo.regressions.keys()):
            regressions.add(
                label_set(
                    registry=repo.registry, repository=repo.repository, platform=str(platform)
                ),
                repo.regressions.get(platform, 0),
            )
    up = Family(
        "archlag_registry_up",
        "gauge",
        "1 if the latest poll of every watch on this registry succeeded",
    )
    for registry, ok in sorted(snapshot.registries_up().items()):
        up.add(label_set(registry=registry), 1 if ok else 0)
    unsupported = Family(
        "archlag_repository_unsupported_manifests",
        "counter",
        "Manifests archlag cannot read (reason: schema1, nested_too_deep, unknown_media_type...)",
    )
    for repo in snapshot.repositories:
        for reason, count in sorted(repo.unsupported.items()):
            unsupported.add(
                label_set(registry=repo.registry, repository=repo.repository, reason=reason), count
            )
    return [threshold, interval, regressions, last_success, poll_errors, up, unsupported]


def _registry_families(snapshot: Snapshot) -> list[Family]:
    limit = Family(
        "archlag_registry_ratelimit_limit",
        "gauge",
        "Pull limit the registry reported in its last ratelimit-limit header",
    )
    remaining = Family(
        "archlag_registry_ratelimit_remaining",
        "gauge",
        "Pulls left in the window, from the registry's last ratelimit-remaining header",
    )
    window = Family(
        "archlag_registry_ratelimit_window_seconds",
        "gauge",
        "Length of the registry's rate-limit window (the w= of ratelimit-limit)",
    )
    backoff = Family(
        "archlag_registry_backoff_until_timestamp_seconds",
        "gauge",
        "Until when archlag holds off this registry after a 429; 0 when it is not backing off",
    )
    quota = Family(
        "archlag_registry_quota_requests",
        "counter",
        "Manifest GETs, which count against pull limits (HEAD requests do not)",
    )
    for status in snapshot.registries:
        labels = label_set(registry=status.registry)
        if status.ratelimit_limit is not None:
            limit.add(labels, status.ratelimit_limit)
        if status.ratelimit_remaining is not None:
            remaining.add(labels, status.ratelimit_remaining)
        if status.ratelimit_window_seconds is not None:
            window.add(labels, status.ratelimit_window_seconds)
        backoff.add(labels, status.backoff_until or 0)
        quota.add(labels, status.quota_requests)
    return [limit, remaining, window, backoff, quota]


class RequestMetrics:
    """Counts and times every registry request; implements the registry client's observer."""

    def __init__(self, registry: CollectorRegistry) -> None:
        # prometheus-client's _created series only add noise here. The switch is process-wide,
        # and archlag never wants them anywhere.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self._requests = Counter(
            "archlag_registry_requests_total",
            "HTTP requests to registries, by method and result",
            ["registry", "method", "result"],
            registry=registry,
        )
        self._duration = Histogram(
            "archlag_registry_request_duration_seconds",
            "Duration of HTTP requests to registries",
            ["registry"],
            buckets=REQUEST_DURATION_BUCKETS,
            registry=registry,
        )

    def request_finished(self, registry: str, method: str, result: str, seconds: float) -> None:
        method = method if method in ("GET", "HEAD", "POST") else "OTHER"
        result = result if result in REQUEST_RESULTS else "error"
        self._requests.labels(registry, method, result).inc()
        self._duration.labels(registry).observe(seconds)
