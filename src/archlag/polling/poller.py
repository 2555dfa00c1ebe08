"""Scheduling: one poller per watch lists tags, checks the active ones and applies the model.

Per poll a repository costs one tag list plus one ``HEAD`` per *active* tag (incomplete, or
newer than the watch's ``stall_after``); complete tags are re-checked every ``settled_interval``.
A ``GET`` happens only when a digest changed. Each poll's changes are saved in one store
transaction before memory is updated, and nothing a listing shows deletes history (see
:mod:`archlag.polling.listing`).

Every poll ends in a :class:`~archlag.core.status.WatchStatus`: a repository that does not exist
is an empty repository (``not_found``), denied or unreadable answers are that watch's problem,
and only a registry that cannot be reached (``unreachable``, ``rate_limited``) counts against the
registry. A failure that concerns one tag fails that tag, not the poll; nothing raised inside a
poll stops the loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import anyio

from archlag import logs
from archlag.config import Watch
from archlag.core.names import is_tag
from archlag.core.platform_tags import Grouping, PlatformTags
from archlag.core.platforms import Platform
from archlag.core.publication import Completion
from archlag.core.status import DENIED, ERROR, NOT_FOUND, OK, REGISTRY_PROBLEMS, UNAUTHORIZED
from archlag.polling.checks import Checks, TagChecker, Target, reason_for
from archlag.polling.findings import apply_findings
from archlag.polling.hints import Batch, Hints
from archlag.polling.listing import (
    MAX_ABSENT_UNRECORDED,
    RETENTION_SECONDS,
    Known,
    View,
    plan,
    unchanged,
)
from archlag.polling.repository_state import RepositoryState, restore
from archlag.polling.source import TagSource
from archlag.registry import (
    CredentialsError,
    NotFoundError,
    RateLimitedError,
    RegistryError,
    UnauthorizedError,
)
from archlag.store import PollRecord, Store, StoreError

log = logging.getLogger("archlag.poller")


@dataclass(frozen=True, slots=True)
class _Listing:
    """One listing as the watch reads it."""

    names: list[str]  # as the registry sent them, to spot an identical listing
    grouping: Grouping
    invalid: int  # names that are not tags, ignored
    view: View
    found: bool  # False: the repository does not exist (an empty listing)


class WatchPoller:
    def __init__(
        self,
        watch: Watch,
        source: TagSource,
        store: Store,
        state: RepositoryState,
        *,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[], None] = lambda: None,
        on_event_checked: Callable[[str, float], None] = lambda receiver, seconds: None,
    ) -> None:
        self.watch = watch
        self.state = state
        self._source = source
        self._store = store
        self._clock = clock
        self._on_change = on_change
        self._on_event_checked = on_event_checked
        self._hints = Hints(clock)
        self._context = {"registry": watch.registry, "repository": watch.repository}
        self._checker = TagChecker(source, watch.repository, self._context)
        template = watch.settings.platform_tags
        self._platform_tags = PlatformTags(template) if template else None
        self._last: _Listing | None = None  # the listing the last committed poll used

    def reconfigure(self, watch: Watch, source: TagSource) -> None:
        """New settings (or a new registry client) for the next poll; the state is kept."""
        self.watch = watch
        self._source = source
        self._checker = TagChecker(source, watch.repository, self._context)
        template = watch.settings.platform_tags
        self._platform_tags = PlatformTags(template) if template else None
        self._last = None  # the tag filter or template may differ: read the next listing afresh
        self.state.reconfigured()
        self._hints.interrupt()  # a new interval counts from the last poll, not after this wait

    def reload(self) -> None:
        """Read the watch's history from the store again (another shard's history was adopted
        into it before the first poll)."""
        self.state = load_state(self._store, self.watch, self.state.buckets)
        self._last = None
        self._on_change()

    async def run(self, on_first_poll: Callable[[], None]) -> None:
        """Poll forever at the watch's interval (longer when a registry asks to back off), and
        at once when a push event arrives (but never inside a registry's back-off)."""
        while True:
            started = time.monotonic()
            wait = await self.poll_safely()
            backoff_until = time.monotonic() + wait
            on_first_poll()
            while True:  # again when a reload changed the interval meanwhile
                now = time.monotonic()
                interval = self.watch.settings.interval * self._source.slowdown()
                back_off = max(backoff_until - now, 0.0)
                if not await self._hints.wait(started + interval - now, at_least=back_off):
                    break

    def announce(self, tag: str | None, pushed_at: float | None, receiver: str) -> None:
        """A push event for this watch: check ``tag`` (None: every tag in view) at once."""
        self.state.event_accepted(self._hints.add(tag, pushed_at, receiver))

    async def poll_safely(self) -> float:
        """One poll; never raises (except cancellation). Returns a registry-requested back-off."""
        try:
            return await self.poll()
        except Exception:
            self._failed(ERROR, "archlag failed while polling (see the log)")
            log.exception("poll_crashed", extra={"archlag_fields": self._context})
            return 0.0

    async def poll(self) -> float:
        """List, check what is due (and what events named), apply; hints of a poll that did
        not commit are kept for the next one."""
        batch = self._hints.take()
        committed = False
        try:
            wait, committed = await self._poll(batch)
            return wait
        finally:
            if not committed:
                self._hints.restore(batch)

    async def _poll(self, batch: Batch) -> tuple[float, bool]:
        now = self._clock()
        try:
            names: list[str] | None = await self._source.list_tags(self.watch.repository)
        except NotFoundError:
            names = None  # no such repository (yet): an empty repository, polled on
        except RegistryError as exc:
            self._failed(await self._reason(exc), exc.message)
            logs.event(log, logging.WARNING, "tags_list_failed", **self._context,
                       result=exc.result, error=exc.message)  # fmt: skip
            return _back_off(exc), False
        listing = await self._listing(names, now)
        # Tags this listing lacks stay in view unchanged: they are not looked at until a listing
        # has them again (or a second one confirms they are gone).
        listed = [t for t in listing.view.selected if t not in listing.view.missing_once]
        due = [t for t in listed if batch.names(t) or self._due(t, now)]
        targets = [_target(t, listing.grouping) for t in due]
        with_created = self.watch.settings.backfill and not self.state.figures.baseline_done
        checks = await self._checker.check(targets, self.state.tags, with_created=with_created)
        committed = await self._apply(now, listing, checks, batch)
        return checks.retry_after, committed

    async def _reason(self, error: RegistryError) -> str:
        """The status for a failed listing; a refusal is the repository's only if the registry
        itself accepts archlag (``GET /v2/`` succeeds)."""
        reason = reason_for(error)
        if reason != DENIED or isinstance(error, CredentialsError):
            return UNAUTHORIZED if reason == DENIED else reason
        try:
            await self._source.ping()
        except UnauthorizedError:
            return UNAUTHORIZED
        except RegistryError as other:
            return reason_for(other)
        return DENIED

    async def _listing(self, names: list[str] | None, now: float) -> _Listing:
        """What a listing means for the watch (see :mod:`archlag.polling.listing`).

        Filtering and ranking 100,000 tags costs a while, and a listing rarely changes between
        two polls: an identical listing, with nothing waiting for confirmation or retention,
        reuses the last committed view.
        """
        state, last = self.state, self._last
        found = names is not None
        if (
            last is not None
            and (last.found, last.names) == (found, names or [])
            and not state.missing_once
            and not any(now - since > RETENTION_SECONDS for since in state.absent_since.values())
        ):
            return replace(last, view=unchanged(last.view, state.selected))
        grouping, invalid = self._group(names or [])
        matches = self.watch.settings.tags.matches
        current = [t for t in grouping.bases if matches(t)]
        new = [t for t in current if t not in state.first_listed]
        added = await self._first_listed(new, now)
        known = Known(
            state.first_listed, state.absent_since, state.missing_once, state.selected, state.tags
        )
        view = plan(known, current, added, self.watch.settings.tags.limit, now)
        return _Listing(names or [], grouping, invalid, view, found)

    async def _first_listed(self, new_tags: list[str], now: float) -> dict[str, float]:
        """When new tags count as first listed: now, except at a repository's first poll.

        Tags found at the first poll are ranked by the registry's push times where it has any
        (Docker Hub's API), else they tie and version order ranks them.
        """
        if not new_tags or self.state.figures.baseline_done:
            return dict.fromkeys(new_tags, now)
        pushed = await self._source.push_times(self.watch.repository)
        # The listing is newest first and bounded: a tag missing from it is older than all.
        oldest = min(pushed.values(), default=now)
        return {t: min(now, pushed.get(t, oldest)) for t in new_tags}

    def _group(self, names: list[str]) -> tuple[Grouping, int]:
        """Base tags and per-platform parts of a listing, with the count of invalid names."""
        valid = list(dict.fromkeys(t for t in names if is_tag(t)))
        invalid = len(set(names)) - len(valid)
        if invalid and invalid != self.state.figures.invalid_tags:
            logs.event(log, logging.WARNING, "invalid_tags_ignored", **self._context, count=invalid)
        if self._platform_tags is not None:
            return self._platform_tags.group(valid), invalid
        return Grouping(tuple(valid), frozenset(valid)), invalid

    def _due(self, tag: str, now: float) -> bool:
        previous = self.state.tags.get(tag)
        if previous is None:
            return True
        settings = self.watch.settings
        publication = previous.publication
        if not publication.complete or now - publication.first_seen < settings.stall_after:
            return True
        return now - previous.last_checked >= settings.settled_interval

    async def _apply(self, now: float, listing: _Listing, checks: Checks, batch: Batch) -> bool:
        """Apply, save in one transaction, then update memory; False if nothing was saved."""
        state, view = self.state, listing.view
        settings = self.watch.settings
        applied = apply_findings(
            state, view, checks, batch, now,
            configured=settings.platforms, backfill=settings.backfill,
        )  # fmt: skip
        reason, message = self._outcome(listing, checks)
        record = PollRecord(
            registry=state.registry,
            repository=state.repository,
            figures=state.figures.polled(
                now,
                reason=reason,
                message=message,
                checks_failed=bool(checks.failed),
                invalid_tags=listing.invalid,
                suspect=view.suspect,
                forgotten=view.capped,
                regressions=[platform for _, platform in applied.regressions],
                unsupported=checks.unsupported,
            ),
            listed_added=view.added,
            listed_absent=_absence_changes(view),
            forgotten=view.forgotten,
            tags_changed=tuple(applied.changed.values()),
            completions=tuple(applied.completions),
        )
        try:
            new = await anyio.to_thread.run_sync(self._store.save, record)
        except StoreError as exc:
            self._failed(ERROR, str(exc))
            logs.event(log, logging.ERROR, "state_save_failed", **self._context, error=str(exc))
            return False
        self._log_status(reason, message, now)
        state.commit(
            record,
            view=view,
            tags=applied.tags,
            checked=checks.checked,
            failed={t: m for t, (_, m) in checks.failed.items()},
            completions=new,
            changes=applied.changes,
        )
        self._last = listing
        self._log_changes(new, applied.regressions, checks, listing)
        self._events_checked(batch, checks)
        self._on_change()
        return True

    def _events_checked(self, batch: Batch, checks: Checks) -> None:
        """How long after their push time the tags that events named were checked."""
        done = self._clock()
        for tag, hint in batch.tags.items():
            if hint.pushed_at is not None and tag in checks.checked:
                self._on_event_checked(hint.receiver, done - hint.pushed_at)

    def _outcome(self, listing: _Listing, checks: Checks) -> tuple[str, str]:
        """The watch status after this poll: not found, a registry problem of a check, or ok."""
        if not listing.found:
            return NOT_FOUND, "repository not found: it has no tags yet, or the name is wrong"
        for reason, message in checks.failed.values():
            if reason in REGISTRY_PROBLEMS:
                return reason, message
        return OK, ""

    def _failed(self, reason: str, message: str) -> None:
        now = self._clock()
        self._log_status(reason, message, now)
        self.state.failed(reason, message, now)
        self._on_change()

    def _log_status(self, reason: str, message: str, now: float) -> None:
        """Say when a watch changes status, in particular when it recovers."""
        before = self.state.figures.status
        if reason == before.reason:
            return
        if reason == OK and before.since is not None:
            logs.event(log, logging.INFO, "watch_recovered", **self._context,
                       was=before.reason, after_seconds=max(now - before.since, 0.0))  # fmt: skip
        elif reason != OK:
            logs.event(log, logging.WARNING, "watch_status_changed", **self._context,
                       status=reason, error=message)  # fmt: skip

    def _log_changes(
        self,
        completions: tuple[Completion, ...],
        regressions: list[tuple[str, Platform]],
        checks: Checks,
        listing: _Listing,
    ) -> None:
        for completion in completions:
            logs.event(log, logging.INFO, "publication_complete", **self._context,
                       tag=completion.tag, spread_seconds=completion.spread)  # fmt: skip
        for tag, platform in regressions:
            logs.event(log, logging.WARNING, "platform_regressed", **self._context,
                       tag=tag, platform=str(platform))  # fmt: skip
        view = listing.view
        if view.suspect:
            logs.event(log, logging.WARNING, "tags_listing_suspect", **self._context,
                       dropped=view.dropped, listed=len(listing.grouping.bases),
                       note="nothing leaves the view unless the next listing agrees")  # fmt: skip
        if view.gone:
            logs.event(log, logging.INFO, "tags_gone", **self._context, count=len(view.gone))
        if view.capped:
            logs.event(log, logging.WARNING, "absent_names_forgotten", **self._context,
                       count=view.capped, kept=MAX_ABSENT_UNRECORDED,
                       note="absent names without a record are kept up to the cap")  # fmt: skip
        logs.event(log, logging.DEBUG, "poll_done", **self._context,
                   checked=len(checks.contents), failures=len(checks.failed))  # fmt: skip


def load_state(store: Store, watch: Watch, buckets: tuple[float, ...]) -> RepositoryState:
    """The watch's state as the store holds it, viewed with the watch's current settings."""
    settings = watch.settings
    return restore(
        store.load(watch.registry, watch.repository),
        watch.registry,
        watch.repository,
        buckets=buckets,
        platforms=settings.platforms,
        matches=settings.tags.matches,
        limit=settings.tags.limit,
        backfill=settings.backfill,
    )


def _absence_changes(view: View) -> dict[str, float | None]:
    """Rows of listed_tags whose absent_since changes: set for tags gone, cleared for returns."""
    changes: dict[str, float | None] = dict.fromkeys(view.returned)
    changes.update((t, view.absent_since[t]) for t in view.gone if t not in view.forgotten)
    return changes


def _target(tag: str, grouping: Grouping) -> Target:
    own = (tag,) if tag in grouping.listed else ()
    return Target(tag, own + tuple(sorted(grouping.parts.get(tag, {}).values())))


def _back_off(exc: RegistryError) -> float:
    """How long a registry asked archlag to wait (429 ``Retry-After``), else 0."""
    if isinstance(exc, RateLimitedError) and exc.retry_after:
        return exc.retry_after
    return 0.0
