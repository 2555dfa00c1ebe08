"""The ``lateness`` setting of ``defaults`` and of each watch: the bounds of a threshold learned
from the repository's history (:mod:`archlag.core.lateness`).

``lateness: {min: 5m, max: 24h, margin: 1.5, min_observations: 5}``; a watch's keys override the
defaults' key by key. Issues go to the :class:`~archlag.config.nodes.NodeReader` passed in;
nothing here raises.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from archlag.config import bounds
from archlag.config.nodes import Node, NodeReader, join
from archlag.core.durations import format_duration
from archlag.core.lateness import LatenessSettings

LATENESS_KEYS = frozenset({"min", "max", "margin", "min_observations"})


def read_lateness(
    reader: NodeReader, node: Node, path: str, base: LatenessSettings
) -> LatenessSettings:
    """``base`` with the keys ``node`` sets; ``min`` above ``max`` is an issue (``base`` kept)."""
    fields = reader.mapping(node, path, set(LATENESS_KEYS)) or {}
    high = bounds.MAX_SETTING_SECONDS
    values: dict[str, Any] = {
        "min": reader.bounded_duration(fields, path, "min", high, positive=False),
        "max": reader.bounded_duration(fields, path, "max", high, positive=True),
        "margin": _margin(reader, fields, path),
        "min_observations": reader.bounded_int(
            fields, path, "min_observations", bounds.LATENESS_MIN_OBSERVATIONS
        ),
    }
    settings = replace(base, **{k: v for k, v in values.items() if v is not None})
    if settings.min > settings.max:
        reader.error(
            path,
            node,
            f"min ({format_duration(settings.min)}) must not be above max "
            f"({format_duration(settings.max)})",
        )
        return base
    return settings


def _margin(reader: NodeReader, fields: dict[str, Node], path: str) -> float | None:
    if "margin" not in fields:
        return None
    low, high = bounds.LATENESS_MARGIN
    sub = join(path, "margin")
    value = reader.scalar(fields["margin"], sub, object, "a number")  # any value: checked here
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None or not math.isfinite(number) or not low <= number <= high:
        reader.error(sub, fields["margin"], f"must be a number from {low:g} to {high:g}")
        return None
    return float(number)
