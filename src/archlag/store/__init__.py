"""The state file: everything archlag must not lose across restarts.

- :mod:`~archlag.store.records`: the values read and written, the :class:`Store` seam and
  :class:`StoreError`;
- :mod:`~archlag.store.sqlite`: :class:`SQLiteStore`, one transaction per poll;
- :mod:`~archlag.store.rows`: a repository's rows read into records, and a poll written;
- :mod:`~archlag.store.schema`: the schema and its migrations;
- :mod:`~archlag.store.lock`: one writer per file, and noticing a deleted or replaced file;
- :mod:`~archlag.store.transfer`: one repository's rows, from one state file into another.
"""

from archlag.store.lock import LockedError
from archlag.store.records import (
    Observation,
    PollRecord,
    RepositoryRecord,
    Store,
    StoreError,
    Timestamps,
)
from archlag.store.schema import MIGRATIONS, SCHEMA_VERSION
from archlag.store.sqlite import MEMORY, SQLiteStore
from archlag.store.transfer import TransferError

__all__ = [
    "MEMORY",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "LockedError",
    "Observation",
    "PollRecord",
    "RepositoryRecord",
    "SQLiteStore",
    "Store",
    "StoreError",
    "Timestamps",
    "TransferError",
]
