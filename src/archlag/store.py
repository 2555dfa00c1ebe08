"""Persistent state in SQLite: tags, publications, first-seen times, digests and observations.

Each poll of a repository is written as one transaction (:meth:`SQLiteStore.save`), so a
``kill -9`` at any moment leaves either all of a poll or none of it: no first-seen time is lost or
reset and no observation repeats or disappears. The file uses WAL journaling; its schema version
is ``PRAGMA user_version`` and migrations live in ``_MIGRATIONS``.

Errors: :class:`StoreError` for a file that cannot be opened, is corrupt, or was written by a
newer archlag. It is never answered by resetting the file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from archlag.model import Completion, PlatformState, Publication, TagState
from archlag.platforms import Platform, parse_platform

SCHEMA_VERSION = 2

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE repositories (
        registry TEXT NOT NULL, repository TEXT NOT NULL,
        baseline_done INTEGER NOT NULL, last_poll_success REAL,
        PRIMARY KEY (registry, repository));
    CREATE TABLE listed_tags (
        registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
        first_listed REAL NOT NULL,
        PRIMARY KEY (registry, repository, tag));
    CREATE TABLE tags (
        registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
        digest TEXT NOT NULL, last_checked REAL NOT NULL,
        seq INTEGER NOT NULL, first_seen REAL NOT NULL,
        baseline INTEGER NOT NULL, observed INTEGER NOT NULL,
        PRIMARY KEY (registry, repository, tag));
    CREATE TABLE platforms (
        registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
        platform TEXT NOT NULL, digest TEXT NOT NULL, first_seen REAL NOT NULL,
        present INTEGER NOT NULL,
        PRIMARY KEY (registry, repository, tag, platform));
    CREATE TABLE observations (
        registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
        publication_first_seen REAL NOT NULL, seq INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('spread', 'delay')),
        platform TEXT NOT NULL, seconds REAL NOT NULL,
        UNIQUE (registry, repository, tag, publication_first_seen, kind, platform));
    CREATE TABLE regressions (
        registry TEXT NOT NULL, repository TEXT NOT NULL, platform TEXT NOT NULL,
        total INTEGER NOT NULL,
        PRIMARY KEY (registry, repository, platform));
    """,
    2: """
    ALTER TABLE platforms ADD COLUMN source TEXT NOT NULL DEFAULT 'observed';
    ALTER TABLE observations ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE unsupported (
        registry TEXT NOT NULL, repository TEXT NOT NULL, reason TEXT NOT NULL,
        total INTEGER NOT NULL,
        PRIMARY KEY (registry, repository, reason));
    """,
}


class StoreError(Exception):
    """The state file cannot be used (unreadable, corrupt, or from a newer archlag)."""


@dataclass(frozen=True, slots=True)
class Observation:
    kind: str  # "spread" or "delay"
    platform: Platform | None  # None for spread
    seconds: float
    estimated: bool = False  # a backfill estimate, kept apart from measurements


@dataclass(frozen=True, slots=True)
class RepositoryRecord:
    """What the store holds for one repository."""

    baseline_done: bool = False
    last_poll_success: float | None = None
    first_listed: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, TagState] = field(default_factory=dict)
    observations: tuple[Observation, ...] = ()
    regressions: Mapping[Platform, int] = field(default_factory=dict)
    unsupported: Mapping[str, int] = field(default_factory=dict)  # manifests refused, by reason


@dataclass(frozen=True, slots=True)
class PollRecord:
    """The changes one poll made to one repository, written atomically."""

    registry: str
    repository: str
    baseline_done: bool
    last_poll_success: float | None
    listed_added: Mapping[str, float] = field(default_factory=dict)
    listed_removed: frozenset[str] = frozenset()
    tags_changed: tuple[TagState, ...] = ()
    tags_removed: frozenset[str] = frozenset()
    completions: tuple[Completion, ...] = ()
    regressions: tuple[Platform, ...] = ()
    unsupported: tuple[str, ...] = ()  # reasons of manifests refused in this poll


class Store(Protocol):
    def load(self, registry: str, repository: str) -> RepositoryRecord: ...
    def save(self, record: PollRecord) -> None: ...
    def close(self) -> None: ...


class SQLiteStore:
    """A :class:`Store` in one SQLite file (``":memory:"`` keeps nothing across restarts)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._prepare()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"state file {path}: cannot use it: {exc}") from None

    def _prepare(self) -> None:
        db = self._db
        db.execute("PRAGMA busy_timeout = 5000")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"state file {self.path} has schema version {version}, newer than this archlag "
                f"understands ({SCHEMA_VERSION}); upgrade archlag or point state_file elsewhere"
            )
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise StoreError(f"state file {self.path} is corrupt ({check}); it was left untouched")
        if self.path != ":memory:":
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {target:d}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def load(self, registry: str, repository: str) -> RepositoryRecord:
        key = (registry, repository)
        with self._lock:
            db = self._db
            row = db.execute(
                "SELECT baseline_done, last_poll_success FROM repositories"
                " WHERE registry = ? AND repository = ?",
                key,
            ).fetchone()
            listed = db.execute(
                "SELECT tag, first_listed FROM listed_tags WHERE registry = ? AND repository = ?",
                key,
            ).fetchall()
            tag_rows = db.execute(
                "SELECT tag, digest, last_checked, seq, first_seen, baseline, observed FROM tags"
                " WHERE registry = ? AND repository = ?",
                key,
            ).fetchall()
            platform_rows = db.execute(
                "SELECT tag, platform, digest, first_seen, present, source FROM platforms"
                " WHERE registry = ? AND repository = ?",
                key,
            ).fetchall()
            observation_rows = db.execute(
                "SELECT kind, platform, seconds, estimated FROM observations"
                " WHERE registry = ? AND repository = ? ORDER BY rowid",
                key,
            ).fetchall()
            regression_rows = db.execute(
                "SELECT platform, total FROM regressions WHERE registry = ? AND repository = ?",
                key,
            ).fetchall()
            unsupported_rows = db.execute(
                "SELECT reason, total FROM unsupported WHERE registry = ? AND repository = ?",
                key,
            ).fetchall()
        return RepositoryRecord(
            baseline_done=bool(row[0]) if row else False,
            last_poll_success=row[1] if row else None,
            first_listed=dict(listed),
            tags=_tags_from_rows(tag_rows, platform_rows),
            observations=tuple(
                Observation(kind, parse_platform(platform) if platform else None, seconds, bool(e))
                for kind, platform, seconds, e in observation_rows
            ),
            regressions={parse_platform(p): total for p, total in regression_rows},
            unsupported=dict(unsupported_rows),
        )

    def save(self, record: PollRecord) -> None:
        """Write one poll's changes in a single transaction.

        Raises:
            StoreError: the write failed (disk full, file removed...); nothing was written.
        """
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                _write(db, record)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreError(f"state file {self.path}: write failed: {exc}") from None


def _tags_from_rows(
    tag_rows: list[tuple[Any, ...]], platform_rows: list[tuple[Any, ...]]
) -> dict[str, TagState]:
    platforms: dict[str, dict[Platform, PlatformState]] = {}
    for tag, platform, digest, first_seen, present, source in platform_rows:
        platforms.setdefault(tag, {})[parse_platform(platform)] = PlatformState(
            digest, first_seen, bool(present), source
        )
    tags = {}
    for tag, digest, last_checked, seq, first_seen, baseline, observed in tag_rows:
        publication = Publication(
            seq, first_seen, platforms.get(tag, {}), bool(baseline), bool(observed)
        )
        tags[tag] = TagState(tag, digest, publication, last_checked)
    return tags


def _write(db: sqlite3.Connection, record: PollRecord) -> None:
    key = (record.registry, record.repository)
    db.execute(
        "INSERT INTO repositories VALUES (?, ?, ?, ?) ON CONFLICT (registry, repository)"
        " DO UPDATE SET baseline_done = excluded.baseline_done,"
        " last_poll_success = excluded.last_poll_success",
        (*key, int(record.baseline_done), record.last_poll_success),
    )
    db.executemany(
        "INSERT OR REPLACE INTO listed_tags VALUES (?, ?, ?, ?)",
        [(*key, tag, at) for tag, at in record.listed_added.items()],
    )
    removed = [(*key, tag) for tag in record.listed_removed]
    db.executemany(
        "DELETE FROM listed_tags WHERE registry = ? AND repository = ? AND tag = ?", removed
    )
    gone = [(*key, tag) for tag in record.tags_removed | {s.tag for s in record.tags_changed}]
    db.executemany("DELETE FROM tags WHERE registry = ? AND repository = ? AND tag = ?", gone)
    db.executemany("DELETE FROM platforms WHERE registry = ? AND repository = ? AND tag = ?", gone)
    for state in record.tags_changed:
        pub = state.publication
        db.execute(
            "INSERT INTO tags VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                *key,
                state.tag,
                state.digest,
                state.last_checked,
                pub.seq,
                pub.first_seen,
                int(pub.baseline),
                int(pub.observed),
            ),
        )
        db.executemany(
            "INSERT INTO platforms VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (*key, state.tag, str(p), s.digest, s.first_seen, int(s.present), s.source)
                for p, s in pub.platforms.items()
            ],
        )
    for completion in record.completions:
        started = completion.first_seen
        rows = [(completion.tag, started, completion.seq, "spread", "", completion.spread)]
        rows += [
            (completion.tag, started, completion.seq, "delay", str(p), delay)
            for p, delay in sorted(completion.delays.items())
        ]
        db.executemany(
            "INSERT OR IGNORE INTO observations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*key, *row, int(completion.estimated)) for row in rows],
        )
    for platform in record.regressions:
        db.execute(
            "INSERT INTO regressions VALUES (?, ?, ?, 1) ON CONFLICT (registry, repository,"
            " platform) DO UPDATE SET total = total + 1",
            (*key, str(platform)),
        )
    for reason in record.unsupported:
        db.execute(
            "INSERT INTO unsupported VALUES (?, ?, ?, 1) ON CONFLICT (registry, repository,"
            " reason) DO UPDATE SET total = total + 1",
            (*key, reason),
        )
