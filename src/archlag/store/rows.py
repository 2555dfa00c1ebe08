"""The rows of one repository in the state file: read into records, and one poll written.

Pure functions over an open :class:`sqlite3.Connection` (the transaction is the caller's,
:class:`~archlag.store.sqlite.SQLiteStore`); every query is a fixed string with parameters.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from archlag.core.figures import WatchFigures
from archlag.core.platforms import Platform, parse_platform
from archlag.core.publication import Completion, Expectation, PlatformState, Publication, TagState
from archlag.store.records import PollRecord, Timestamps


def read_rows(db: sqlite3.Connection, key: tuple[str, str]) -> dict[str, Any]:
    """Every row of one repository, by table (the queries are fixed strings)."""
    queries = {
        "listed": "SELECT tag, first_listed, absent_since FROM listed_tags"
        " WHERE registry = ? AND repository = ?",
        "tags": "SELECT tag, digest, last_checked, seq, first_seen, baseline, observed, expected,"
        " expected_basis, learned_from FROM tags WHERE registry = ? AND repository = ?",
        "platforms": "SELECT tag, platform, digest, first_seen, present, source, last_absent"
        " FROM platforms WHERE registry = ? AND repository = ?",
        "regressions": "SELECT platform, total FROM regressions"
        " WHERE registry = ? AND repository = ?",
        "unsupported": "SELECT reason, total FROM unsupported"
        " WHERE registry = ? AND repository = ?",
        "observations": "SELECT kind, platform, seconds, estimated FROM observations"
        " WHERE registry = ? AND repository = ? ORDER BY rowid",
    }
    rows: dict[str, Any] = {name: db.execute(sql, key).fetchall() for name, sql in queries.items()}
    rows["repository"] = db.execute(
        "SELECT baseline_done, last_poll_success, last_listing FROM repositories"
        " WHERE registry = ? AND repository = ?",
        key,
    ).fetchone()
    return rows


def tags_from_rows(
    tag_rows: list[tuple[Any, ...]], platform_rows: list[tuple[Any, ...]]
) -> dict[str, TagState]:
    platforms: dict[str, dict[Platform, PlatformState]] = {}
    for tag, platform, digest, first_seen, present, source, last_absent in platform_rows:
        platforms.setdefault(tag, {})[parse_platform(platform)] = PlatformState(
            digest, first_seen, bool(present), source, last_absent
        )
    tags = {}
    for row in tag_rows:
        tag, digest, last_checked, seq, first_seen, baseline, observed = row[:7]
        publication = Publication(
            seq,
            first_seen,
            platforms.get(tag, {}),
            bool(baseline),
            bool(observed),
            _expectation(*row[7:]),
        )
        tags[tag] = TagState(tag, digest, publication, last_checked)
    return tags


def _expectation(
    expected: str | None, basis: str | None, learned: str | None
) -> Expectation | None:
    if expected is None or basis is None:
        return None  # written by archlag 0.1; fixed by restore()
    platforms = frozenset(parse_platform(p) for p in expected.split(",") if p)
    return Expectation(platforms, basis, tuple(t for t in (learned or "").split(",") if t))


def write_poll(db: sqlite3.Connection, record: PollRecord) -> tuple[Completion, ...]:
    key = (record.registry, record.repository)
    _write_figures(db, key, record.figures)
    _write_listing(db, key, record)
    _write_tags(db, key, record)
    _write_checked(db, key, record.checked)
    return tuple(c for c in record.completions if _write_completion(db, key, c))


def write_timestamps(db: sqlite3.Connection, stamps: Timestamps) -> None:
    """Move a repository's poll and check times forward; an older time never wins."""
    key = (stamps.registry, stamps.repository)
    db.execute(
        "UPDATE repositories SET"
        " last_poll_success = MAX(COALESCE(last_poll_success, ?), COALESCE(?, last_poll_success)),"
        " last_listing = MAX(COALESCE(last_listing, ?), COALESCE(?, last_listing))"
        " WHERE registry = ? AND repository = ?",
        (stamps.last_poll_success, stamps.last_poll_success, stamps.last_listing,
         stamps.last_listing, *key),
    )  # fmt: skip
    _write_checked(db, key, stamps.checked)


def _write_checked(
    db: sqlite3.Connection, key: tuple[str, str], checked: Mapping[str, float]
) -> None:
    db.executemany(
        "UPDATE tags SET last_checked = MAX(last_checked, ?)"
        " WHERE registry = ? AND repository = ? AND tag = ?",
        [(at, *key, tag) for tag, at in checked.items()],
    )


def figures_from_rows(rows: dict[str, Any]) -> WatchFigures:
    """The stored figures of a repository (:func:`read_rows`); the others start afresh."""
    repository = rows["repository"]
    return WatchFigures(
        baseline_done=bool(repository[0]) if repository else False,
        last_poll_success=repository[1] if repository else None,
        last_listing=repository[2] if repository else None,
        regressions={parse_platform(p): total for p, total in rows["regressions"]},
        unsupported=dict(rows["unsupported"]),
    )


def _write_figures(db: sqlite3.Connection, key: tuple[str, str], figures: WatchFigures) -> None:
    """The stored figures: the repository's row and its counters' totals."""
    db.execute(
        "INSERT INTO repositories (registry, repository, baseline_done, last_poll_success,"
        " last_listing) VALUES (?, ?, ?, ?, ?) ON CONFLICT (registry, repository)"
        " DO UPDATE SET baseline_done = excluded.baseline_done,"
        # times only move forward: a flush of older figures never takes them back
        " last_poll_success = MAX(COALESCE(last_poll_success, excluded.last_poll_success),"
        " COALESCE(excluded.last_poll_success, last_poll_success)),"
        " last_listing = MAX(COALESCE(last_listing, excluded.last_listing),"
        " COALESCE(excluded.last_listing, last_listing))",
        (*key, int(figures.baseline_done), figures.last_poll_success, figures.last_listing),
    )
    db.executemany(
        "INSERT INTO regressions VALUES (?, ?, ?, ?) ON CONFLICT (registry, repository,"
        " platform) DO UPDATE SET total = excluded.total",
        [(*key, str(platform), total) for platform, total in figures.regressions.items()],
    )
    db.executemany(
        "INSERT INTO unsupported VALUES (?, ?, ?, ?) ON CONFLICT (registry, repository,"
        " reason) DO UPDATE SET total = excluded.total",
        [(*key, reason, total) for reason, total in figures.unsupported.items()],
    )


def _write_listing(db: sqlite3.Connection, key: tuple[str, str], record: PollRecord) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO listed_tags (registry, repository, tag, first_listed,"
        " absent_since) VALUES (?, ?, ?, ?, NULL)",
        [(*key, tag, at) for tag, at in record.listed_added.items()],
    )
    db.executemany(
        "UPDATE listed_tags SET absent_since = ? WHERE registry = ? AND repository = ? AND tag = ?",
        [(gone, *key, tag) for tag, gone in record.listed_absent.items()],
    )
    forgotten = [(*key, tag) for tag in record.forgotten]
    for table in ("listed_tags", "tags", "platforms"):
        db.executemany(
            f"DELETE FROM {table} WHERE registry = ? AND repository = ? AND tag = ?",  # noqa: S608
            forgotten,
        )


def _write_tags(db: sqlite3.Connection, key: tuple[str, str], record: PollRecord) -> None:
    changed = [(*key, state.tag) for state in record.tags_changed]
    db.executemany("DELETE FROM tags WHERE registry = ? AND repository = ? AND tag = ?", changed)
    db.executemany(
        "DELETE FROM platforms WHERE registry = ? AND repository = ? AND tag = ?", changed
    )
    for state in record.tags_changed:
        pub = state.publication
        expectation = pub.expectation
        db.execute(
            "INSERT INTO tags VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                *key,
                state.tag,
                state.digest,
                state.last_checked,
                pub.seq,
                pub.first_seen,
                int(pub.baseline),
                int(pub.observed),
                *_expectation_columns(expectation),
            ),
        )
        db.executemany(
            "INSERT INTO platforms VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*key, state.tag, str(p), *_platform_columns(s)) for p, s in pub.platforms.items()],
        )


def _platform_columns(state: PlatformState) -> tuple[Any, ...]:
    return (
        state.digest,
        state.first_seen,
        int(state.present),
        state.source,
        state.last_absent,
    )


def _expectation_columns(expectation: Expectation | None) -> tuple[str | None, ...]:
    if expectation is None:
        return (None, None, None)
    platforms = ",".join(sorted(str(p) for p in expectation.platforms))
    return (platforms, expectation.basis, ",".join(expectation.learned_from))


def _write_completion(db: sqlite3.Connection, key: tuple[str, str], completion: Completion) -> bool:
    """Insert a completion's observations; False if it was stored before (nothing written)."""
    started = completion.first_seen
    head = (*key, completion.tag, started, completion.seq)
    estimated = int(completion.estimated)
    spread = db.execute(
        "INSERT OR IGNORE INTO observations VALUES (?, ?, ?, ?, ?, 'spread', '', ?, ?)",
        (*head, completion.spread, estimated),
    )
    if spread.rowcount == 0:
        return False
    rows: Iterable[tuple[Any, ...]] = (
        (*head, str(p), delay, estimated) for p, delay in sorted(completion.delays.items())
    )
    db.executemany(
        "INSERT OR IGNORE INTO observations VALUES (?, ?, ?, ?, ?, 'delay', ?, ?, ?)", rows
    )
    return True
