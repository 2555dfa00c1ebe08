"""The one interface every discovery source implements, and what it reports.

A :class:`Source` runs until it is cancelled. Whenever what it sees changes it publishes its
*complete* current set as a :class:`Reading`; when its world cannot be read (the API server or
the socket is gone, access is refused) it says :meth:`Report.down` with the reason, and the
runner keeps its last set. It never has to catch its own bugs: the runner logs an exception that
escapes ``run``, marks the source down and starts it again after a back-off.

Errors: :class:`SourceUnavailable` (raised by a source's reading when its world cannot be read;
its message is the reason, safe to show).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from archlag import logs
from archlag.discovery.limits import MAX_LOGGED_PROBLEMS
from archlag.discovery.sighting import Sighting, SourceName


class SourceUnavailable(Exception):
    """The source's world cannot be read now; the message says why (no secret, one line)."""


@dataclass(frozen=True, slots=True)
class Reading:
    """A source's complete current set of sightings."""

    sightings: tuple[Sighting, ...]
    invalid: int = 0  # items that could not be read (each logged once)
    note: str = ""  # something partial to say while up: "nodes: forbidden (platforms unknown)"


class Report(Protocol):
    """How a source tells the runner what it sees."""

    def publish(self, reading: Reading) -> None: ...

    def down(self, reason: str) -> None: ...


class Source(Protocol):
    name: SourceName

    async def run(self, report: Report) -> None:
        """Publish the current set whenever it changes, until cancelled."""


class ItemProblems:
    """Logs each item that fails, once while it keeps failing, and counts them per reading.

    A source reads the same broken file or container at every reading; its log line is written
    when it first fails (or fails differently), not at every reading.
    """

    def __init__(self, logger: logging.Logger, source: SourceName) -> None:
        self._log, self._source = logger, source
        self._before: set[tuple[str, str]] = set()
        self._now: set[tuple[str, str]] = set()
        self._logged = 0

    def begin(self) -> None:
        self._now, self._logged = set(), 0

    def failed(self, item: str, reason: str) -> None:
        key = (item, reason)
        if key not in self._before and key not in self._now:
            self._logged += 1
            if self._logged <= MAX_LOGGED_PROBLEMS:
                logs.event(self._log, logging.WARNING, "discovery_item_failed",
                           source=self._source, item=item, reason=reason)  # fmt: skip
        self._now.add(key)

    def end(self) -> int:
        """The number of items that failed in this reading."""
        self._before = self._now
        return len(self._now)
