"""What the store reads and writes: plain frozen values, and the :class:`Store` seam."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from archlag.core.figures import WatchFigures
from archlag.core.platforms import Platform
from archlag.core.publication import Completion, TagState


class StoreError(Exception):
    """The state file cannot be used: unreadable, not writable, corrupt, from a newer archlag,
    in use by another process, or deleted or replaced while archlag runs. The message names the
    file and the reason."""


@dataclass(frozen=True, slots=True)
class Observation:
    kind: str  # "spread" or "delay"
    platform: Platform | None  # None for spread
    seconds: float
    estimated: bool = False  # a backfill estimate, kept apart from measurements


@dataclass(frozen=True, slots=True)
class RepositoryRecord:
    """What the store holds for one repository (of its figures, the stored ones)."""

    figures: WatchFigures = field(default_factory=WatchFigures)
    first_listed: Mapping[str, float] = field(default_factory=dict)
    absent_since: Mapping[str, float] = field(default_factory=dict)  # tags a listing lost
    tags: Mapping[str, TagState] = field(default_factory=dict)
    observations: tuple[Observation, ...] = ()


@dataclass(frozen=True, slots=True)
class PollRecord:
    """The changes one poll made to one repository, written atomically: the watch's figures
    after the poll (the stored ones are written), and what changed in its listing and tags."""

    registry: str
    repository: str
    figures: WatchFigures
    listed_added: Mapping[str, float] = field(default_factory=dict)  # tag -> first listed
    listed_absent: Mapping[str, float | None] = field(default_factory=dict)  # None: back again
    forgotten: frozenset[str] = frozenset()  # tags whose records are deleted (retention)
    tags_changed: tuple[TagState, ...] = ()
    completions: tuple[Completion, ...] = ()
    checked: Mapping[str, float] = field(default_factory=dict)  # unchanged tags: last checked


@dataclass(frozen=True, slots=True)
class Timestamps:
    """What quiet polls kept in memory only: times that only move forward, written now and
    then (a ``kill -9`` loses at most a little precision, never a first-seen time)."""

    registry: str
    repository: str
    last_poll_success: float | None
    last_listing: float | None
    checked: Mapping[str, float] = field(default_factory=dict)  # tag -> last checked


class Store(Protocol):
    def load(self, registry: str, repository: str) -> RepositoryRecord: ...

    def save(self, record: PollRecord) -> tuple[Completion, ...]:
        """Write one poll; return the completions that were new (not stored before)."""
        ...

    def touch(self, stamps: Timestamps) -> None:
        """Move the timestamps forward (never back) in one transaction."""
        ...

    def problem(self) -> str | None:
        """Why the state file can no longer be written (deleted, replaced), or None."""
        ...

    def meta(self, key: str) -> str | None:
        """A setting the process that last ran on this file stored."""
        ...

    def set_meta(self, key: str, value: str) -> None: ...

    def export(self, registry: str, repository: str) -> dict[str, Any] | None:
        """The repository's rows, for another archlag (None: nothing stored)."""
        ...

    def adopt(self, registry: str, repository: str, document: object) -> None:
        """Replace the repository's rows with another archlag's export."""
        ...

    def close(self) -> None: ...
