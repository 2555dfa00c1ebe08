"""Snapshots built by hand, for tests of what is rendered from them (pages, API, metrics)."""

from __future__ import annotations

from typing import Any

from archlag.state import HistogramSnapshot, RepositorySnapshot, TagView


def repository_snapshot(
    *views: TagView, registry: str = "127.0.0.1:5000", name: str = "demo/app", **fields: Any
) -> RepositorySnapshot:
    """A watched repository's snapshot with ``views`` in view; ``fields`` override the rest."""
    values: dict[str, Any] = {
        "interval": 60.0,
        "stall_after": 1800.0,
        "last_poll_success": None,
        "last_poll_ok": True,
        "poll_errors": 0,
        "spread": HistogramSnapshot.empty(()),
        "delays": {},
        "regressions": {},
    }
    values.update(fields)
    return RepositorySnapshot(registry=registry, repository=name, tags=views, **values)
