"""Sharding: each watched repository belongs to exactly one of ``total`` shards.

A repository's shard is a stable hash of ``registry/repository`` (SHA-256, so every process, on
every platform and Python version, agrees), modulo the number of shards. A shard polls, receives
events for and exports only its own repositories. On Kubernetes the ordinal comes from the
StatefulSet pod's hostname (``archlag-2`` is shard 2).

Errors: :class:`ShardError` for an ordinal or total that cannot be used.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_ORDINAL = re.compile(r".*-([0-9]{1,5})")
MAX_SHARDS = 1000


class ShardError(ValueError):
    """An ordinal or a total of shards that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Shard:
    ordinal: int = 0
    total: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.total <= MAX_SHARDS:
            raise ShardError(f"--total-shards must be from 1 to {MAX_SHARDS}, got {self.total}")
        if not 0 <= self.ordinal < self.total:
            raise ShardError(
                f"--shard must be from 0 to {self.total - 1} (of {self.total} shards), "
                f"got {self.ordinal}"
            )

    def owns(self, registry: str, repository: str) -> bool:
        return shard_of(registry, repository, self.total) == self.ordinal


def shard_of(registry: str, repository: str, total: int) -> int:
    digest = hashlib.sha256(f"{registry}/{repository}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % total


def ordinal_from_hostname(hostname: str) -> int:
    """The ordinal at the end of a StatefulSet pod's hostname: ``archlag-2`` is 2.

    Raises:
        ShardError: the hostname does not end in ``-<number>``.
    """
    match = _ORDINAL.fullmatch(hostname.strip())
    if match is None:
        raise ShardError(
            f"--shard.from-hostname: hostname {hostname!r} does not end in -<ordinal> "
            "(as StatefulSet pods do, e.g. archlag-2)"
        )
    return int(match.group(1))
