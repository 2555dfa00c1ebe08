"""Scheduling: one poller per watch lists tags, checks the active ones and applies the model.

Per poll a repository costs one tag list plus one ``HEAD`` per tag that can still change its
completeness (:func:`archlag.polling.reading.due`); settled tags (complete baselines, complete
tags older than ``stall_after``) are re-checked every ``settled_interval``, also right after a
restart. A ``GET`` happens only when a digest changed. Polls of many watches are spread over the
interval: each watch polls on a grid of its own, offset by a stable hash of its name.

A poll that changed something is saved in one store transaction before memory is updated, and
nothing a listing shows deletes history (see :mod:`archlag.polling.listing`). A *quiet* poll (the
same listing, no content changed, no status change) changes only times: they are kept in memory
(:meth:`RepositoryState.quiet`) and written with the next poll that writes, at least every
``settled_interval``, and at shutdown (:meth:`WatchPoller.flush`); it neither writes nor makes
``/metrics`` render again, and costs nothing proportional to the number of tags but the listing.

Every poll ends in a :class:`~archlag.core.status.WatchStatus`: a repository that does not exist
is an empty repository (``not_found``), denied or unreadable answers are that watch's problem,
and only a registry that cannot be reached (``unreachable``, ``rate_limited``) counts against the
registry. A failure that concerns one tag fails that tag, not the poll; nothing raised inside a
poll stops the loop.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

import anyio

from archlag import logs
from archlag.config import Watch
from archlag.core.figures import WatchFigures
from archlag.core.platforms import Platform
from archlag.core.status import DENIED, ERROR, NOT_FOUND, OK, REGISTRY_PROBLEMS, UNAUTHORIZED
from archlag.polling.checks import Checks, TagChecker, reason_for
from archlag.polling.findings import apply_findings
from archlag.polling.hints import Batch, Hints
from archlag.polling.listing import View
from archlag.polling.poll_log import log_changes, log_done, log_status
from archlag.polling.reading import Listing, ListingReader, due
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
FIRST_POLL_PLACE_SECONDS = 10.0  # the longest a first poll keeps its place in the start gate


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
        self._reader = ListingReader(watch, source, self._context)
        self._saved_at = clock()  # when times were last written
        self._phase = phase(watch.registry, watch.repository)

    def reconfigure(self, watch: Watch, source: TagSource) -> None:
        """New settings (or a new registry client) for the next poll; the state is kept."""
        self.watch = watch
        self._source = source
        self._checker = TagChecker(source, watch.repository, self._context)
        self._reader.reconfigure(watch, source)
        self.state.reconfigured()
        self._hints.interrupt()  # a new interval counts from the last poll, not after this wait

    def reload(self) -> None:
        """Read the watch's history from the store again (another shard's history was adopted
        into it before the first poll)."""
        self.state = load_state(self._store, self.watch, self.state.buckets)
        self._reader.committed(None)
        self._on_change()

    async def run(
        self, on_first_poll: Callable[[], None], *, first_polls: anyio.Semaphore | None = None
    ) -> None:
        """Poll forever at the watch's interval on its own grid (longer when a registry asks to
        back off), and at once when a push event arrives (but never inside a registry's
        back-off). The first poll waits for a place in ``first_polls``, when given."""
        first = True
        while True:
            started = time.monotonic()
            if first and first_polls is not None:
                wait = await self._first_poll(first_polls)
            else:
                wait = await self.poll_safely()
            first = False
            backoff_until = time.monotonic() + wait
            on_first_poll()
            while True:  # again when a reload changed the interval meanwhile
                now = time.monotonic()
                interval = self.watch.settings.interval * self._source.slowdown()
                back_off = max(backoff_until - now, 0.0)
                start = next_start(started, interval, self._phase)
                if not await self._hints.wait(start - now, at_least=back_off):
                    break

    async def _first_poll(self, gate: anyio.Semaphore) -> float:
        """The first poll, holding a place of ``gate`` (watches of one registry starting
        together) until it is done, or for :data:`FIRST_POLL_PLACE_SECONDS` at most: a slow
        registry answer delays the others that long, not for as long as it lasts."""
        await gate.acquire()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                gate.release()

        async def release_later() -> None:
            await anyio.sleep(FIRST_POLL_PLACE_SECONDS)
            release()

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(release_later)
                wait = await self.poll_safely()
                group.cancel_scope.cancel()
        finally:
            release()
        return wait

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

    async def flush(self) -> None:
        """Write the times that quiet polls kept in memory (at shutdown, and every
        ``settled_interval``); a failure is logged and they are kept for the next try."""
        stamps = self.state.timestamps()
        if stamps is None:
            return
        try:
            await anyio.to_thread.run_sync(self._store.touch, stamps)
        except StoreError as exc:
            logs.event(log, logging.ERROR, "state_save_failed", **self._context, error=str(exc))
            return
        self.state.timestamps_saved(stamps)
        self._saved_at = self._clock()

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
        listing = await self._reader.read(names, self.state, now)
        # Tags this listing lacks stay in view unchanged: they are not looked at until a listing
        # has them again (or a second one confirms they are gone).
        missing, tags, settings = listing.view.missing_once, self.state.tags, self.watch.settings
        targets = [
            listing.target(t)
            for t in listing.view.selected
            if t not in missing and (batch.names(t) or due(tags.get(t), settings, now))
        ]
        with_created = settings.backfill and not self.state.figures.baseline_done
        checks = await self._checker.check(targets, tags, with_created=with_created)
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

    def _quiet(self, listing: Listing, checks: Checks, reason: str, message: str) -> bool:
        """Whether this poll changed nothing but times (see the module docstring)."""
        state = self.state
        status = state.figures.status
        return (
            listing.same
            and not checks.failed
            and not checks.unsupported
            and not state.unsaved
            and (status.reason, status.message) == (reason, message)
            and state.figures.last_poll_ok is True
            and all(content is None for content in checks.contents.values())
            and not any(tag in state.tag_errors for tag in checks.checked)
            and self._store.problem() is None  # a lost state file fails every poll, loudly
        )

    async def _apply(self, now: float, listing: Listing, checks: Checks, batch: Batch) -> bool:
        """Apply, save in one transaction, then update memory; False if nothing was saved."""
        state, view, settings = self.state, listing.view, self.watch.settings
        reason, message = self._outcome(listing, checks)

        def figures(regressions: list[Platform]) -> WatchFigures:
            return state.figures.polled(
                now, reason=reason, message=message, checks_failed=bool(checks.failed),
                invalid_tags=listing.invalid, suspect=view.suspect, forgotten=view.capped,
                regressions=regressions, unsupported=checks.unsupported,
            )  # fmt: skip

        if self._quiet(listing, checks, reason, message):
            state.quiet(figures([]), dict.fromkeys(checks.contents, now))
            self._reader.committed(listing)
            self._events_checked(batch, checks)
            log_done(self._context, checks)
            if now - self._saved_at >= settings.settled_interval:
                await self.flush()
            return True
        applied = apply_findings(
            state, view, checks, batch, now,
            configured=settings.platforms, backfill=settings.backfill,
        )  # fmt: skip
        checked = {**state.pending_checks, **applied.checked}
        record = PollRecord(
            registry=state.registry,
            repository=state.repository,
            figures=figures([platform for _, platform in applied.regressions]),
            listed_added=view.added,
            listed_absent=_absence_changes(view),
            forgotten=view.forgotten,
            tags_changed=tuple(applied.changed.values()),
            completions=tuple(applied.completions),
            checked={t: at for t, at in checked.items() if t not in applied.changed},
        )
        try:
            new = await anyio.to_thread.run_sync(self._store.save, record)
        except StoreError as exc:
            self._failed(ERROR, str(exc))
            logs.event(log, logging.ERROR, "state_save_failed", **self._context, error=str(exc))
            return False
        self._saved_at = now
        log_status(self._context, state.figures.status, reason, message, now)
        state.commit(
            record,
            view=view,
            replaced=applied.tags.replaced,
            dropped=applied.tags.dropped,
            looked_at=checks.checked,
            failed={t: m for t, (_, m) in checks.failed.items()},
            completions=new,
            changes=applied.changes,
        )
        self._reader.committed(listing)
        log_changes(self._context, new, applied.regressions, checks, listing)
        self._events_checked(batch, checks)
        self._on_change()
        return True

    def _events_checked(self, batch: Batch, checks: Checks) -> None:
        """How long after their push time the tags that events named were checked."""
        done = self._clock()
        for tag, hint in batch.tags.items():
            if hint.pushed_at is not None and tag in checks.checked:
                self._on_event_checked(hint.receiver, done - hint.pushed_at)

    def _outcome(self, listing: Listing, checks: Checks) -> tuple[str, str]:
        """The watch status after this poll: not found, a registry problem of a check, or ok."""
        if not listing.found:
            return NOT_FOUND, "repository not found: it has no tags yet, or the name is wrong"
        for reason, message in checks.failed.values():
            if reason in REGISTRY_PROBLEMS:
                return reason, message
        return OK, ""

    def _failed(self, reason: str, message: str) -> None:
        now = self._clock()
        log_status(self._context, self.state.figures.status, reason, message, now)
        self.state.failed(reason, message, now)
        self._on_change()


def phase(registry: str, repository: str) -> float:
    """Where in its interval a watch polls, from 0 to 1: a stable hash of its name, so that many
    watches spread their polls over the interval instead of sending them in one burst."""
    digest = hashlib.sha256(f"{registry}/{repository}".encode()).digest()
    return int.from_bytes(digest[8:16], "big") / 2**64


def next_start(started: float, interval: float, phase: float) -> float:
    """When the poll after the one that started at ``started`` starts: the point of the watch's
    grid (``phase`` of an interval, plus whole intervals) nearest to one interval later, so
    within half an interval of it."""
    offset = phase * interval
    return offset + round((started + interval - offset) / interval) * interval


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


def _back_off(exc: RegistryError) -> float:
    """How long a registry asked archlag to wait (429 ``Retry-After``), else 0."""
    if isinstance(exc, RateLimitedError) and exc.retry_after:
        return exc.retry_after
    return 0.0
