"""The state file's schema: one migration per version, applied in order inside a transaction.

``PRAGMA user_version`` holds the version. A file from a newer archlag is refused, never
rewritten; a file from an older one is upgraded in place, keeping every row.
"""

from __future__ import annotations

SCHEMA_VERSION = 4

MIGRATIONS: dict[int, str] = {
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
    # History is kept (tags that leave a listing keep their records, marked absent), each
    # publication keeps the expectation it was judged by, each platform the last check without it.
    # expected is NULL for publications written by 0.1: the first poll fixes and writes it.
    3: """
    ALTER TABLE listed_tags ADD COLUMN absent_since REAL;
    ALTER TABLE repositories ADD COLUMN last_listing REAL;
    ALTER TABLE tags ADD COLUMN expected TEXT;
    ALTER TABLE tags ADD COLUMN expected_basis TEXT;
    ALTER TABLE tags ADD COLUMN learned_from TEXT;
    ALTER TABLE platforms ADD COLUMN last_absent REAL;
    CREATE TABLE holder (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pid INTEGER NOT NULL, host TEXT NOT NULL, started REAL NOT NULL);
    """,
    # Settings of the process that wrote the file, for decisions at the next start: the number
    # of shards it ran with (a change means repositories moved between shards).
    4: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
}
