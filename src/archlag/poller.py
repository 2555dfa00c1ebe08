"""Scheduling: one poller per watch lists tags, checks the active ones and applies the model.

Per poll a repository costs one tag list plus one ``HEAD`` per *active* tag (incomplete, or
newer than the watch's ``stall_after``); complete tags are re-checked every ``settled_interval``.
A ``GET`` happens only when a digest changed. Each poll's changes are saved in one store
transaction before memory is updated. Registry errors mark the poll failed and keep every known
tag state, so availability never drops to 0 because a registry could not be reached; nothing
raised inside a poll stops the loop.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import anyio

from archlag import logs
from archlag.checks import Checks, TagChecker, Target
from archlag.config import Watch
from archlag.model import (
    Completion,
    TagState,
    apply_content,
    estimate,
    expected_platforms,
    select_tags,
    settle,
)
from archlag.platform_tags import Grouping, PlatformTags
from archlag.platforms import Platform
from archlag.registry import RateLimitedError, RegistryError
from archlag.sources import TagSource
from archlag.state import RepositoryState
from archlag.store import PollRecord, Store, StoreError

log = logging.getLogger("archlag.poller")
_VALID_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True, slots=True)
class _Listing:
    """What one tag listing means for the watch."""

    listed: list[str]  # as the registry sent it
    grouping: Grouping
    first_listed: dict[str, float]
    added: dict[str, float]  # tags first listed in this poll
    selected: tuple[str, ...]


class WatchPoller:
    def __init__(
        self,
        watch: Watch,
        source: TagSource,
        store: Store,
        state: RepositoryState,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.watch = watch
        self.state = state
        self._source = source
        self._store = store
        self._clock = clock
        self._context = {"registry": watch.registry, "repository": watch.repository}
        self._checker = TagChecker(source, watch.repository, self._context)
        template = watch.settings.platform_tags
        self._platform_tags = PlatformTags(template) if template else None
        self._last_listing: _Listing | None = None  # the view the last committed poll used

    async def run(self, on_first_poll: Callable[[], None]) -> None:
        """Poll forever at the watch's interval (longer when a registry asks to back off)."""
        settings = self.watch.settings
        while True:
            started = time.monotonic()
            wait = await self.poll_safely()
            on_first_poll()
            elapsed = time.monotonic() - started
            interval = settings.interval * self._source.slowdown()
            await anyio.sleep(max(interval - elapsed, wait, 0.0))

    async def poll_safely(self) -> float:
        """One poll; never raises (except cancellation). Returns a registry-requested back-off."""
        try:
            return await self.poll()
        except Exception:
            self._failed()
            log.exception("poll_crashed", extra={"archlag_fields": self._context})
            return 0.0

    async def poll(self) -> float:
        now = self._clock()
        try:
            listed = await self._source.list_tags(self.watch.repository)
        except RegistryError as exc:
            self._failed()
            logs.event(
                log,
                logging.WARNING,
                "tags_list_failed",
                **self._context,
                result=exc.result,
                error=exc.message,
            )
            return _back_off(exc)
        view = await self._view(listed, now)
        targets = [_target(t, view.grouping) for t in view.selected if self._due(t, now)]
        with_created = self.watch.settings.backfill and not self.state.baseline_done
        checks = await self._checker.check(targets, self.state.tags, with_created=with_created)
        await self._apply(now, view, checks)
        return checks.retry_after

    async def _view(self, listed: list[str], now: float) -> _Listing:
        """The tags a listing holds for this watch, and the newest ``limit`` of them.

        Filtering and ranking 100,000 tags costs about a second of CPU, and a listing rarely
        changes between two polls: an identical listing reuses the last committed view.
        """
        last = self._last_listing
        if last is not None and last.listed == listed:
            return replace(last, added={})
        grouping = self._group(listed)
        tags = [t for t in grouping.bases if self.watch.settings.tags.matches(t)]
        added = await self._first_listed([t for t in tags if t not in self.state.first_listed], now)
        first_listed = {t: self.state.first_listed.get(t, added.get(t, now)) for t in tags}
        candidates: list[str] | tuple[str, ...] = tags
        if last is not None and last.first_listed.keys() <= first_listed.keys():
            # Nothing was removed: a tag that ranked below the last selection still does, and
            # new tags are the newest, so only they and the last selection can make the cut.
            candidates = (*added, *last.selected)
        selected = tuple(select_tags(candidates, first_listed, self.watch.settings.tags.limit))
        return _Listing(listed, grouping, first_listed, added, selected)

    async def _first_listed(self, new_tags: list[str], now: float) -> dict[str, float]:
        """When new tags count as first listed: now, except at a repository's first poll.

        Tags found at the first poll are ranked by the registry's push times where it has any
        (Docker Hub's API), else they tie and version order ranks them.
        """
        if not new_tags or self.state.baseline_done:
            return dict.fromkeys(new_tags, now)
        pushed = await self._source.push_times(self.watch.repository)
        # The listing is newest first and bounded: a tag missing from it is older than all.
        oldest = min(pushed.values(), default=now)
        return {t: min(now, pushed.get(t, oldest)) for t in new_tags}

    def _group(self, listed: list[str]) -> Grouping:
        valid = self._valid(listed)
        if self._platform_tags is not None:
            return self._platform_tags.group(valid)
        return Grouping(tuple(valid), frozenset(valid))

    def _valid(self, listed: list[str]) -> list[str]:
        tags = list(dict.fromkeys(t for t in listed if _VALID_TAG.match(t)))
        if len(tags) < len(set(listed)):
            logs.event(
                log,
                logging.WARNING,
                "invalid_tags_ignored",
                **self._context,
                count=len(set(listed)) - len(tags),
            )
        return tags

    def _due(self, tag: str, now: float) -> bool:
        previous = self.state.tags.get(tag)
        if previous is None:
            return True
        settings = self.watch.settings
        publication = previous.publication
        complete = publication.is_complete(self.state.expected.get(tag, frozenset()))
        if not complete or now - publication.first_seen < settings.stall_after:
            return True
        return now - previous.last_checked >= settings.settled_interval

    async def _apply(self, now: float, view: _Listing, checks: Checks) -> None:
        selected, first_listed, added = view.selected, view.first_listed, view.added
        state = self.state
        tags = {t: s for t, s in state.tags.items() if t in selected}
        changed: dict[str, TagState] = {}
        regressions: list[tuple[str, Platform]] = []
        candidates = set()
        for tag, content in checks.contents.items():
            previous = tags.get(tag)
            if content is None and previous is not None:
                tags[tag] = changed[tag] = replace(previous, last_checked=now)
                continue
            if content is None:
                continue
            outcome = apply_content(previous, tag, content, now)
            tags[tag] = changed[tag] = outcome.state
            regressions += [(tag, platform) for platform in outcome.regressions]
            seen_begin = state.baseline_done and (previous is not None or tag in added)
            if outcome.new_publication and not seen_begin:
                candidates.add(tag)
        expected = expected_platforms(self.watch.settings.platforms, tags)
        completions = self._settle(tags, expected, candidates, changed)
        if self.watch.settings.backfill:
            completions += self._estimates(tags, expected, candidates, checks, now)
        ok = checks.failures == 0
        record = PollRecord(
            registry=state.registry,
            repository=state.repository,
            baseline_done=state.baseline_done or ok,
            last_poll_success=now if ok else state.last_poll_success,
            listed_added=added,
            listed_removed=frozenset(state.first_listed.keys() - first_listed.keys()),
            tags_changed=tuple(changed.values()),
            tags_removed=frozenset(state.tags.keys() - tags.keys()),
            completions=tuple(completions),
            regressions=tuple(platform for _, platform in regressions),
            unsupported=tuple(checks.unsupported),
        )
        try:
            await anyio.to_thread.run_sync(self._store.save, record)
        except StoreError as exc:
            self._failed()
            logs.event(log, logging.ERROR, "state_save_failed", **self._context, error=str(exc))
            return
        self._commit(
            record,
            first_listed=first_listed,
            selected=selected,
            tags=tags,
            expected=expected,
            ok=ok,
        )
        self._last_listing = view
        self._log_changes(record, regressions, checks)

    def _settle(
        self,
        tags: dict[str, TagState],
        expected: Mapping[str, frozenset[Platform]],
        candidates: set[str],
        changed: dict[str, TagState],
    ) -> list[Completion]:
        completions = []
        for tag, current in list(tags.items()):
            settled, completion = settle(
                current, expected[tag], baseline_candidate=tag in candidates
            )
            if settled is not current:
                tags[tag] = changed[tag] = settled
            if completion is not None:
                completions.append(completion)
        return completions

    def _estimates(
        self,
        tags: dict[str, TagState],
        expected: Mapping[str, frozenset[Platform]],
        candidates: set[str],
        checks: Checks,
        now: float,
    ) -> list[Completion]:
        """Backfill: estimates for publications that became a baseline in this poll."""
        estimates = []
        for tag in candidates:
            content = checks.contents.get(tag)
            if content is None or not tags[tag].publication.baseline:
                continue
            estimated = estimate(tags[tag], content.built, expected[tag], now)
            if estimated is not None:
                estimates.append(estimated)
        return estimates

    def _commit(
        self,
        record: PollRecord,
        *,
        first_listed: dict[str, float],
        selected: tuple[str, ...],
        tags: dict[str, TagState],
        expected: Mapping[str, frozenset[Platform]],
        ok: bool,
    ) -> None:
        state = self.state
        state.baseline_done = record.baseline_done
        state.first_listed = first_listed
        state.selected = selected
        state.tags = tags
        state.expected = dict(expected)
        state.last_poll_success = record.last_poll_success
        state.last_poll_ok = ok
        state.poll_errors += 0 if ok else 1
        state.regressions.update(record.regressions)
        state.unsupported.update(record.unsupported)
        state.record(record.completions)

    def _failed(self) -> None:
        self.state.last_poll_ok = False
        self.state.poll_errors += 1

    def _log_changes(
        self, record: PollRecord, regressions: list[tuple[str, Platform]], checks: Checks
    ) -> None:
        for completion in record.completions:
            logs.event(
                log,
                logging.INFO,
                "publication_complete",
                **self._context,
                tag=completion.tag,
                spread_seconds=completion.spread,
            )
        for tag, platform in regressions:
            logs.event(
                log,
                logging.WARNING,
                "platform_regressed",
                **self._context,
                tag=tag,
                platform=str(platform),
            )
        logs.event(
            log,
            logging.DEBUG,
            "poll_done",
            **self._context,
            checked=len(checks.contents),
            changed=len(record.tags_changed),
            failures=checks.failures,
        )


def _target(tag: str, grouping: Grouping) -> Target:
    own = (tag,) if tag in grouping.listed else ()
    return Target(tag, own + tuple(sorted(grouping.parts.get(tag, {}).values())))


def _back_off(exc: RegistryError) -> float:
    """How long a registry asked archlag to wait (429 ``Retry-After``), else 0."""
    if isinstance(exc, RateLimitedError) and exc.retry_after:
        return exc.retry_after
    return 0.0
