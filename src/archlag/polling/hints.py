"""Push-event hints for one watch: what to check at once, and the wake-up of its poller.

Events for one watch are coalesced: a burst of events for one tag costs one check. Per tag the
latest push time is kept (a conservative first-seen: never earlier than the push that made the
tag what the check finds); a manifest pushed by digest names no tag and asks for a check of
every tag in view. Everything runs on the event loop; nothing here does I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import anyio

COALESCE_SECONDS = 0.1  # after a wake-up, gather the rest of a burst (an index follows its images)


@dataclass(frozen=True, slots=True)
class Hint:
    pushed_at: float | None  # the latest push time events gave for the tag
    receiver: str  # the receiver of the latest event, for the check-delay histogram


@dataclass(frozen=True, slots=True)
class Batch:
    tags: Mapping[str, Hint] = field(default_factory=dict)
    repository: bool = False  # an event named only a digest: check every tag in view
    receivers: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.tags) or self.repository

    def names(self, tag: str) -> bool:
        """Whether an event asked for this tag (by name or through its repository)."""
        return self.repository or tag in self.tags


class Hints:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._tags: dict[str, Hint] = {}
        self._repository = False
        self._receivers: set[str] = set()
        self._wake: anyio.Event | None = None
        self._interrupted = False

    def add(self, tag: str | None, pushed_at: float | None, receiver: str) -> float:
        """Note an accepted event; returns when it was accepted (wall clock)."""
        accepted = self._clock()
        self._receivers.add(receiver)
        if tag is None:
            self._repository = True
        else:
            old = self._tags.get(tag)
            latest = max(
                (t for t in (pushed_at, old.pushed_at if old else None) if t), default=None
            )
            self._tags[tag] = Hint(latest, receiver)
        if self._wake is not None:
            self._wake.set()
        return accepted

    def interrupt(self) -> None:
        """End a :meth:`wait` early without an event (the watch's interval changed)."""
        if self._wake is not None:
            self._interrupted = True
            self._wake.set()

    def take(self) -> Batch:
        batch = Batch(dict(self._tags), self._repository, frozenset(self._receivers))
        self._tags, self._repository, self._receivers = {}, False, set()
        return batch

    def restore(self, batch: Batch) -> None:
        """Give back a batch whose poll failed, so the next poll handles it (newer hints win)."""
        for tag, hint in batch.tags.items():
            self._tags.setdefault(tag, hint)
        self._repository |= batch.repository
        self._receivers |= batch.receivers

    async def wait(self, seconds: float, *, at_least: float = 0.0) -> bool:
        """Sleep ``at_least`` seconds (a registry's back-off), then until ``seconds`` have
        passed since the call or an event arrives, whichever is first. True when
        :meth:`interrupt` ended it (no event is waiting): the caller decides again how long."""
        started = time.monotonic()
        if at_least > 0:
            await anyio.sleep(at_least)
        remaining = seconds - (time.monotonic() - started)
        if self._tags or self._repository:
            await anyio.sleep(COALESCE_SECONDS)
            return False
        self._wake, self._interrupted = anyio.Event(), False
        try:
            with anyio.move_on_after(max(remaining, 0.0)):
                await self._wake.wait()
                if self._interrupted and not (self._tags or self._repository):
                    return True
                await anyio.sleep(COALESCE_SECONDS)
        finally:
            self._wake = None
        return False
