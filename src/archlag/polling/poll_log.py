"""The log lines a poll writes: a watch's status changes, and what a committed poll found."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from archlag import logs
from archlag.core.platforms import Platform
from archlag.core.publication import Completion
from archlag.core.status import OK, WatchStatus
from archlag.polling.checks import Checks
from archlag.polling.listing import MAX_ABSENT_UNRECORDED
from archlag.polling.reading import Listing

log = logging.getLogger("archlag.poller")


def log_status(
    context: Mapping[str, str], before: WatchStatus, reason: str, message: str, now: float
) -> None:
    """Say when a watch changes status, in particular when it recovers."""
    if reason == before.reason:
        return
    if reason == OK and before.since is not None:
        logs.event(log, logging.INFO, "watch_recovered", **context,
                   was=before.reason, after_seconds=max(now - before.since, 0.0))  # fmt: skip
    elif reason != OK:
        logs.event(log, logging.WARNING, "watch_status_changed", **context,
                   status=reason, error=message)  # fmt: skip


def log_changes(
    context: Mapping[str, str],
    completions: Iterable[Completion],
    regressions: Iterable[tuple[str, Platform]],
    checks: Checks,
    listing: Listing,
) -> None:
    for completion in completions:
        logs.event(log, logging.INFO, "publication_complete", **context,
                   tag=completion.tag, spread_seconds=completion.spread)  # fmt: skip
    for tag, platform in regressions:
        logs.event(log, logging.WARNING, "platform_regressed", **context,
                   tag=tag, platform=str(platform))  # fmt: skip
    view = listing.view
    if view.suspect:
        logs.event(log, logging.WARNING, "tags_listing_suspect", **context,
                   dropped=view.dropped, listed=len(listing.grouping.bases),
                   note="nothing leaves the view unless the next listing agrees")  # fmt: skip
    if view.gone:
        logs.event(log, logging.INFO, "tags_gone", **context, count=len(view.gone))
    if view.capped:
        logs.event(log, logging.WARNING, "absent_names_forgotten", **context,
                   count=view.capped, kept=MAX_ABSENT_UNRECORDED,
                   note="absent names without a record are kept up to the cap")  # fmt: skip
    log_done(context, checks)


def log_done(context: Mapping[str, str], checks: Checks) -> None:
    logs.event(log, logging.DEBUG, "poll_done", **context,
               checked=len(checks.contents), failures=len(checks.failed))  # fmt: skip
