"""What archlag knows about one watch apart from its tags, declared once.

:class:`WatchFigures` is one frozen value: a poll computes the next one (:meth:`polled`,
:meth:`failed`), the store keeps the fields marked *stored* (so they survive a restart), and the
snapshot carries the value as it is to the metrics, the read API and the status page. Adding a
per-watch figure means a field here, the place that computes it, and, for a stored one, the
store's schema and its reader and writer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from archlag.core.platforms import Platform
from archlag.core.status import NOT_FOUND, OK, WatchStatus


def _counted(counts: Mapping[str, int], more: Mapping[str, int]) -> Mapping[str, int]:
    added = dict(counts)
    for key, count in more.items():
        added[key] = added.get(key, 0) + count
    return added


@dataclass(frozen=True, slots=True)
class WatchFigures:
    # -- stored: read back at start ----------------------------------------------------------
    baseline_done: bool = False  # a poll succeeded once: what appears from now on is measured
    last_poll_success: float | None = None  # the latest poll without errors
    last_listing: float | None = None  # when the latest trusted listing was read
    regressions: Mapping[Platform, int] = field(default_factory=dict)  # platforms that vanished
    unsupported: Mapping[str, int] = field(default_factory=dict)  # refused, by reason
    # -- this process only -------------------------------------------------------------------
    last_poll_ok: bool | None = None  # None before the first poll
    poll_errors: int = 0
    status: WatchStatus = field(default_factory=WatchStatus)
    invalid_tags: int = 0  # names in the latest listing that are not valid tags (ignored)
    suspect_listings: int = 0  # listings that dropped every tag or most of them at once
    forgotten_names: int = 0  # absent names without a record forgotten by the cap
    changes: Mapping[str, int] = field(default_factory=dict)  # new content: poll, event
    last_event: float | None = None  # when a push event for this watch was last accepted

    def polled(
        self,
        now: float,
        *,
        reason: str,
        message: str,
        checks_failed: bool,
        invalid_tags: int,
        suspect: bool,
        forgotten: int,
        regressions: Iterable[Platform] = (),
        unsupported: Iterable[str] = (),
    ) -> WatchFigures:
        """The figures after a poll that listed the repository (or found it missing) and whose
        changes are about to be saved."""
        listed = reason in (OK, NOT_FOUND)
        ok = listed and not checks_failed
        regressed = dict(self.regressions)
        for platform in regressions:
            regressed[platform] = regressed.get(platform, 0) + 1
        refused = Counter(unsupported)
        return replace(
            self,
            baseline_done=self.baseline_done or listed,
            last_poll_success=now if ok else self.last_poll_success,
            last_listing=now,
            regressions=regressed,
            unsupported=_counted(self.unsupported, refused) if refused else self.unsupported,
            last_poll_ok=ok,
            poll_errors=self.poll_errors + (0 if ok else 1),
            status=self.status.then(reason, message, now),
            invalid_tags=invalid_tags,
            suspect_listings=self.suspect_listings + int(suspect),
            forgotten_names=self.forgotten_names + forgotten,
        )

    def failed(self, reason: str, message: str, now: float) -> WatchFigures:
        """The figures after a poll that saved nothing (the listing or the save failed)."""
        return replace(
            self,
            last_poll_ok=False,
            poll_errors=self.poll_errors + 1,
            status=self.status.then(reason, message, now),
        )

    def changed(self, counts: Mapping[str, int]) -> WatchFigures:
        """Tags with new content were saved, counted by what found them (``poll``, ``event``)."""
        return replace(self, changes=_counted(self.changes, counts)) if counts else self

    def event_accepted(self, at: float) -> WatchFigures:
        return replace(self, last_event=at)
