"""Persistent state in SQLite: tags, publications, first-seen times, digests and observations.

Each poll of a repository is written as one transaction (:meth:`SQLiteStore.save`), so a
``kill -9`` at any moment leaves either all of a poll or none of it: no first-seen time is lost or
reset and no observation repeats or disappears. The file uses WAL journaling; its schema version
is ``PRAGMA user_version`` and migrations live in :mod:`archlag.store.schema`.

One process writes a state file: :class:`SQLiteStore` takes the lock of
:mod:`archlag.store.lock` before SQLite opens the file, and refuses to write once the file was
deleted or replaced under it.

Errors: :class:`~archlag.store.records.StoreError` for a file that cannot be opened or written
(with the reason: read-only, disk full, missing directory, in use), is corrupt, or was written by
a newer archlag. It is never answered by resetting the file.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from archlag.core.platforms import parse_platform
from archlag.core.publication import Completion
from archlag.store.lock import LockedError, StateFileLock
from archlag.store.records import (
    Observation,
    PollRecord,
    RepositoryRecord,
    StoreError,
    Timestamps,
)
from archlag.store.rows import (
    figures_from_rows,
    read_rows,
    tags_from_rows,
    write_poll,
    write_timestamps,
)
from archlag.store.schema import MIGRATIONS, SCHEMA_VERSION
from archlag.store.transfer import export_rows, import_rows

MEMORY = ":memory:"
_T = TypeVar("_T")
_LOW_SPACE_BYTES = 1 << 20  # below this much free space, a write failure is a full disk


class SQLiteStore:
    """A :class:`~archlag.store.records.Store` in one SQLite file (``":memory:"`` keeps nothing).

    Raises:
        StoreError: the file cannot be used (see the module docstring).
    """

    def __init__(self, path: str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: StateFileLock | None = None
        self._problem: str | None = None
        if path != MEMORY:
            try:
                self._file = StateFileLock(path)
            except LockedError:
                raise LockedError(path, describe_holder(path)) from None
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._prepare()
            self._claim(clock())
        except sqlite3.Error as exc:
            self._release()
            raise StoreError(f"state file {path}: {self._explain(exc)}") from None
        except BaseException:
            self._release()
            raise

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
        if self.path != MEMORY:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {target:d}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _claim(self, now: float) -> None:
        """Say who holds the file, for the message a second process prints (and prove that the
        file can be written before any poll needs it)."""
        self._db.execute(
            "INSERT OR REPLACE INTO holder VALUES (1, ?, ?, ?)",
            (os.getpid(), socket.gethostname()[:255], now),
        )

    def _explain(self, exc: sqlite3.Error) -> str:
        """A reason a person can act on, for SQLite's terse messages."""
        text = str(exc)
        if "full" in text or (("I/O" in text or "disk" in text) and self._low_on_space()):
            return "the disk holding it is full (no space left on the device)"
        if "readonly" in text or "read-only" in text:
            return "it cannot be written (read-only file, directory or file system)"
        if "unable to open" in text:
            return "cannot open it (does its directory exist, and may archlag write there?)"
        if "not a database" in text:
            return "it is not an archlag state file (not SQLite); it was left untouched"
        return f"cannot use it: {text}"

    def _low_on_space(self) -> bool:
        try:
            found = os.statvfs(os.path.dirname(os.path.abspath(self.path)))
        except OSError:
            return False
        return found.f_bavail * found.f_frsize < _LOW_SPACE_BYTES

    def _release(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
        if self._file is not None:
            self._file.release()
            self._file = None

    def close(self) -> None:
        with self._lock:
            self._release()

    def problem(self) -> str | None:
        """Why the state file can no longer be written, or None (see :class:`FileIdentity`)."""
        if self._problem is None and self._file is not None:
            self._problem = self._file.identity.problem()
        return self._problem

    def load(self, registry: str, repository: str) -> RepositoryRecord:
        key = (registry, repository)
        with self._lock:
            rows = read_rows(self._db, key)
        return RepositoryRecord(
            figures=figures_from_rows(rows),
            first_listed={tag: at for tag, at, _ in rows["listed"]},
            absent_since={tag: gone for tag, _, gone in rows["listed"] if gone is not None},
            tags=tags_from_rows(rows["tags"], rows["platforms"]),
            observations=tuple(
                Observation(kind, parse_platform(platform) if platform else None, seconds, bool(e))
                for kind, platform, seconds, e in rows["observations"]
            ),
        )

    def save(self, record: PollRecord) -> tuple[Completion, ...]:
        """Write one poll's changes in a single transaction; return the new completions.

        Raises:
            StoreError: the write failed (disk full, file deleted or replaced...); nothing was
                written.
        """
        return self._transaction(lambda db: write_poll(db, record))

    def touch(self, stamps: Timestamps) -> None:
        """Move a repository's poll and check times forward, in one transaction.

        Raises:
            StoreError: as :meth:`save`.
        """
        self._transaction(lambda db: write_timestamps(db, stamps))

    def _transaction(self, write: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._lock:
            problem = self.problem()
            if problem is not None:
                raise StoreError(f"{problem}; nothing more is written to it (restart archlag)")
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                result = write(db)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreError(
                    f"state file {self.path}: write failed: {self._explain(exc)}"
                ) from None
            return result

    def meta(self, key: str) -> str | None:
        """A setting the last process stored (``None`` if none did)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def export(self, registry: str, repository: str) -> dict[str, Any] | None:
        """The repository's rows for another archlag (:mod:`archlag.store.transfer`)."""
        with self._lock:
            return export_rows(self._db, registry, repository)

    def adopt(self, registry: str, repository: str, document: object) -> None:
        """Replace the repository's rows with an export, in one transaction.

        Raises:
            TransferError: the document cannot be imported; nothing was changed.
            StoreError: the write failed, or the file can no longer be written.
        """
        with self._lock:
            problem = self.problem()
            if problem is not None:
                raise StoreError(problem)
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                import_rows(db, registry, repository, document)
                db.execute("COMMIT")
            except BaseException as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"state file {self.path}: {self._explain(exc)}") from None
                raise


def describe_holder(path: str) -> str:
    """Who holds a locked state file, read from its ``holder`` row (read-only), if possible."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
        try:
            row = db.execute("SELECT pid, host, started FROM holder WHERE id = 1").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return "another process"
    if row is None:
        return "another process"
    pid, host, started = row
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started))
    return f"archlag pid {pid} on host {host} (since {since})"
