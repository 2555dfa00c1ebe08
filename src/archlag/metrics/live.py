"""The small families that change with every request, rendered at each scrape: what registries
said about rate limits, the state file's health, the version, shards and reloads, whether each
missing platform is late by now, and archlag's own traffic."""

from __future__ import annotations

from archlag.core.lateness import Deadline
from archlag.core.outcomes import LIMITS
from archlag.core.snapshots import LiveSnapshot
from archlag.metrics.http_listeners import listener_families
from archlag.metrics.running_images import running_families
from archlag.metrics.text import Family, Spec, label_set, sample, with_label
from archlag.metrics.traffic import traffic_families

LIMIT = Spec(
    "archlag_registry_ratelimit_limit",
    "gauge",
    "Pull limit the registry reported in its last ratelimit-limit header",
)
REMAINING = Spec(
    "archlag_registry_ratelimit_remaining",
    "gauge",
    "Pulls left in the window, from the registry's last ratelimit-remaining header",
)
WINDOW = Spec(
    "archlag_registry_ratelimit_window_seconds",
    "gauge",
    "Length of the registry's rate-limit window (the w= of ratelimit-limit)",
)
BACKOFF = Spec(
    "archlag_registry_backoff_until_timestamp_seconds",
    "gauge",
    "Until when archlag holds off this registry after a 429; 0 when it is not backing off",
)
QUOTA = Spec(
    "archlag_registry_quota_requests",
    "counter",
    "Manifest GETs, which count against pull limits (HEAD requests do not)",
)
LIMITS_HIT = Spec(
    "archlag_registry_limits_hit",
    "counter",
    "Answers that hit one of archlag's caps (limit: tag_pages, tags_per_listing, "
    "platforms_per_index, body_too_large, json_too_deep, bad_header, bad_url, bad_token)",
)
STATE_FILE = Spec(
    "archlag_state_file_ok",
    "gauge",
    "1 while the state file archlag writes is the one at state_file; 0 once it was deleted or "
    "replaced under archlag (nothing more is written; restart archlag)",
)
BUILD = Spec("archlag_build_info", "gauge", "archlag version; always 1")
SHARD = Spec("archlag_shard_ordinal", "gauge", "This process's shard (--shard), 0 when not sharded")
SHARDS = Spec(
    "archlag_total_shards", "gauge", "The number of shards (--total-shards), 1 by default"
)
LAST_SUCCESS = Spec(
    "archlag_repository_last_poll_success_timestamp_seconds",
    "gauge",
    "When the repository was last polled without errors",
)
RELOAD_OK = Spec(
    "archlag_config_last_reload_successful",
    "gauge",
    "1 if the last configuration reload succeeded (or none was tried), 0 if it was refused",
)
LATE = Spec(
    "archlag_tag_platform_late",
    "gauge",
    "1 once this missing platform of the tag is past "
    "archlag_tag_platform_late_after_timestamp_seconds, else 0 (as of this scrape)",
)
RELOAD_AT = Spec(
    "archlag_config_last_reload_success_timestamp_seconds",
    "gauge",
    "When the configuration was last loaded successfully (at start, or by a reload)",
)


def live_families(live: LiveSnapshot, late: LateSeries | None = None) -> list[Family]:
    """Every family rendered at each scrape: the registries' limits, the process's health,
    whether each missing platform is late (``late`` keeps its lines from one scrape to the
    next), and archlag's own traffic (:mod:`archlag.metrics.traffic`)."""
    limit, remaining, window = Family(LIMIT), Family(REMAINING), Family(WINDOW)
    backoff, quota, limits = Family(BACKOFF), Family(QUOTA), Family(LIMITS_HIT)
    for status in live.registries:
        labels = label_set(registry=status.registry)
        if status.ratelimit_limit is not None:
            limit.gauge(labels, status.ratelimit_limit)
        if status.ratelimit_remaining is not None:
            remaining.gauge(labels, status.ratelimit_remaining)
        if status.ratelimit_window_seconds is not None:
            window.gauge(labels, status.ratelimit_window_seconds)
        backoff.gauge(labels, status.backoff_until or 0)
        quota.counter(labels, status.quota_requests)
        for name in LIMITS:
            limits.counter(with_label(labels, "limit", name), status.limits_hit.get(name, 0))
    state = Family(STATE_FILE)
    state.gauge("", 1 if live.state_file_ok else 0)
    build = Family(BUILD)
    build.gauge(label_set(version=live.version), 1)
    ordinal, total = Family(SHARD), Family(SHARDS)
    ordinal.gauge("", live.shard_ordinal)
    total.gauge("", live.total_shards)
    reloaded, reloaded_at = Family(RELOAD_OK), Family(RELOAD_AT)
    reloaded.gauge("", 1 if live.reload_successful else 0)
    if live.reload_success_time is not None:
        reloaded_at.gauge("", live.reload_success_time)
    polled = Family(LAST_SUCCESS)
    for (registry, repository), at in live.last_poll_success.items():
        polled.gauge(label_set(registry=registry, repository=repository), at)
    return [
        limit, remaining, window, backoff, quota, limits, state, build, ordinal, total, reloaded,
        reloaded_at, polled, (late or LateSeries()).family(live),
        *traffic_families(live.requests, live.receivers),
        *running_families(live.running, live.discovery),
        *listener_families(live),
    ]  # fmt: skip


class LateSeries:
    """``archlag_tag_platform_late``, whether each missing platform is late now: the one figure
    that changes with the clock alone, so it is rendered at every scrape. Its two possible lines
    per platform are written once per watch's deadlines (which change only with the watch's
    state: the same tuple until then), so a scrape only compares each deadline with its clock.
    Event loop only."""

    def __init__(self) -> None:
        self._lines: dict[tuple[str, str], tuple[tuple[Deadline, ...], list[_Choice]]] = {}

    def family(self, live: LiveSnapshot) -> Family:
        late, now = Family(LATE), live.taken_at
        kept = {}
        for key, pending in live.deadlines.items():
            cached = self._lines.get(key)
            if cached is None or cached[0] is not pending:
                cached = (pending, [_choice(key, deadline) for deadline in pending])
            kept[key] = cached
            for late_after, waiting, passed in cached[1]:
                late.lines.add(passed if now > late_after else waiting)
        self._lines = kept  # watches without a missing platform are forgotten
        return late


_Choice = tuple[float, str, str]  # the deadline, the line before it, the line after it


def _choice(watch: tuple[str, str], deadline: Deadline) -> _Choice:
    registry, repository = watch
    labels = label_set(
        registry=registry,
        repository=repository,
        tag=deadline.tag,
        platform=str(deadline.platform),
    )
    return (deadline.late_after, sample(LATE.name, labels, 0), sample(LATE.name, labels, 1))
