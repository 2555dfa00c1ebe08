"""Snapshots built by hand, for tests of what is rendered from them (pages, API, metrics)."""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from typing import Any

from archlag.core.figures import WatchFigures
from archlag.core.histograms import HistogramSnapshot
from archlag.core.snapshots import RepositorySnapshot, TagView

_FIGURES = {f.name for f in dataclass_fields(WatchFigures)}


def repository_snapshot(
    *views: TagView, registry: str = "127.0.0.1:5000", name: str = "demo/app", **fields: Any
) -> RepositorySnapshot:
    """A watched repository's snapshot with ``views`` in view; ``fields`` override the rest
    (the watch's figures, such as ``status`` or ``poll_errors``, among them)."""
    figures = {"last_poll_ok": True} | {k: v for k, v in fields.items() if k in _FIGURES}
    values: dict[str, Any] = {
        "interval": 60.0,
        "stall_after": 1800.0,
        "spread": HistogramSnapshot.empty(()),
        "delays": {},
    }
    values.update({k: v for k, v in fields.items() if k not in _FIGURES})
    return RepositorySnapshot(
        registry=registry, repository=name, tags=views, figures=WatchFigures(**figures), **values
    )
