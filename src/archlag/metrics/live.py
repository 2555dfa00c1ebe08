"""The small families that change with every request, rendered at each scrape: what registries
said about rate limits, the state file's health, and the version."""

from __future__ import annotations

from collections.abc import Sequence

from archlag.metrics.text import Family, Spec, label_set, with_label
from archlag.registry import LIMITS
from archlag.state import RegistryStatus

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


def live_families(
    registries: Sequence[RegistryStatus], *, state_file_ok: bool, version: str
) -> list[Family]:
    limit, remaining, window = Family(LIMIT), Family(REMAINING), Family(WINDOW)
    backoff, quota, limits = Family(BACKOFF), Family(QUOTA), Family(LIMITS_HIT)
    for status in registries:
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
    state.gauge("", 1 if state_file_ok else 0)
    build = Family(BUILD)
    build.gauge(label_set(version=version), 1)
    return [limit, remaining, window, backoff, quota, limits, state, build]
