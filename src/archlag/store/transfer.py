"""One repository's rows, out of one state file and into another: how a repository keeps its
history when resharding moves it to another archlag.

:func:`export_rows` writes every row of the repository, table by table, with the column names,
as a JSON-ready document stamped with the schema version. :func:`import_rows` checks such a
document as untrusted input (the schema version, the tables and columns, every value's type, and
that every row belongs to the repository) and then replaces the repository's rows in one
transaction, or raises :class:`TransferError` and changes nothing.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from archlag.store.schema import SCHEMA_VERSION

# The tables that hold a repository's rows, and the type of each column (for checking imports).
TABLES: dict[str, dict[str, type | tuple[type, ...]]] = {
    "repositories": {
        "registry": str, "repository": str, "baseline_done": int,
        "last_poll_success": (float, int, type(None)), "last_listing": (float, int, type(None)),
    },
    "listed_tags": {
        "registry": str, "repository": str, "tag": str, "first_listed": (float, int),
        "absent_since": (float, int, type(None)),
    },
    "tags": {
        "registry": str, "repository": str, "tag": str, "digest": str,
        "last_checked": (float, int), "seq": int, "first_seen": (float, int), "baseline": int,
        "observed": int, "expected": (str, type(None)), "expected_basis": (str, type(None)),
        "learned_from": (str, type(None)),
    },
    "platforms": {
        "registry": str, "repository": str, "tag": str, "platform": str, "digest": str,
        "first_seen": (float, int), "present": int, "source": str,
        "last_absent": (float, int, type(None)),
    },
    "observations": {
        "registry": str, "repository": str, "tag": str, "publication_first_seen": (float, int),
        "seq": int, "kind": str, "platform": str, "seconds": (float, int), "estimated": int,
    },
    "regressions": {"registry": str, "repository": str, "platform": str, "total": int},
    "unsupported": {"registry": str, "repository": str, "reason": str, "total": int},
}  # fmt: skip
MAX_ROWS = 1_000_000


class TransferError(ValueError):
    """A document that cannot be imported; the message says why. Nothing was changed."""


def export_rows(db: sqlite3.Connection, registry: str, repository: str) -> dict[str, Any] | None:
    """Every row of the repository, or None when the file holds nothing for it."""
    tables: dict[str, list[list[Any]]] = {}
    for table, columns in TABLES.items():
        names = ", ".join(columns)
        rows = db.execute(
            f"SELECT {names} FROM {table} WHERE registry = ? AND repository = ?",  # noqa: S608
            (registry, repository),
        ).fetchall()
        tables[table] = [list(row) for row in rows]
    if not tables["repositories"]:
        return None
    return {
        "schema_version": SCHEMA_VERSION,
        "registry": registry,
        "repository": repository,
        "columns": {table: list(columns) for table, columns in TABLES.items()},
        "tables": tables,
    }


def import_rows(db: sqlite3.Connection, registry: str, repository: str, document: object) -> None:
    """Replace the repository's rows with the document's, in one transaction (the caller's).

    Raises:
        TransferError: the document is not an export of this repository at this schema version.
    """
    tables = _checked(document, registry, repository)
    for table, types in TABLES.items():
        db.execute(
            f"DELETE FROM {table} WHERE registry = ? AND repository = ?",  # noqa: S608
            (registry, repository),
        )
        columns = ", ".join(types)
        marks = ", ".join("?" * len(types))
        db.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608
            tables[table],
        )


def _checked(document: object, registry: str, repository: str) -> dict[str, list[list[Any]]]:
    if not isinstance(document, dict):
        raise TransferError("the export is not a JSON object")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise TransferError(
            f"the export has schema version {document.get('schema_version')!r}, this archlag "
            f"{SCHEMA_VERSION}: run the same archlag version on every shard"
        )
    if (document.get("registry"), document.get("repository")) != (registry, repository):
        raise TransferError("the export is of another repository")
    if document.get("columns") != {t: list(c) for t, c in TABLES.items()}:
        raise TransferError("the export's tables or columns differ from this archlag's")
    tables = document.get("tables")
    if not isinstance(tables, dict) or set(tables) != set(TABLES):
        raise TransferError("the export's tables differ from this archlag's")
    for table, rows in tables.items():
        if not isinstance(rows, list):
            raise TransferError(f"the export's {table} is not a list of rows")
    if sum(len(rows) for rows in tables.values()) > MAX_ROWS:
        raise TransferError(f"the export holds more than {MAX_ROWS} rows")
    for table, rows in tables.items():
        for row in rows:
            _check_row(table, row, registry, repository)
    if len(tables["repositories"]) != 1:
        raise TransferError("the export has no repository row")
    return tables


def _check_row(table: str, row: object, registry: str, repository: str) -> None:
    types = list(TABLES[table].values())
    if not isinstance(row, list) or len(row) != len(types):
        raise TransferError(f"a row of {table} has the wrong number of values")
    for value, kind in zip(row, types, strict=True):
        if isinstance(value, bool) or not isinstance(value, kind):
            raise TransferError(f"a row of {table} has a value of the wrong type")
    if (row[0], row[1]) != (registry, repository):
        raise TransferError(f"a row of {table} belongs to another repository")
