"""Prometheus duration syntax: ``1h30m``, ``45s``, ``500ms``, ``2d``."""

from __future__ import annotations

import re

_UNITS = {
    "y": 31536000.0, "w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001,
}  # fmt: skip
_ORDER = tuple(_UNITS)
_DURATION = re.compile("^" + "".join(rf"(?:(\d+){unit})?" for unit in _ORDER) + "$")


class DurationError(ValueError):
    """Text that is not a Prometheus duration."""


def parse_duration(text: str) -> float:
    """Return the duration in seconds.

    ``0`` alone is accepted (as Prometheus does); every other value needs units in descending order.

    Raises:
        DurationError: the text is empty, has no unit, or has units out of order.
    """
    text = text.strip()
    if text == "0":
        return 0.0
    match = _DURATION.match(text)
    if not text or match is None:
        raise DurationError(f"{text!r} is not a duration like 30s, 5m, 1h30m or 500ms")
    return sum(int(n) * _UNITS[u] for n, u in zip(match.groups(), _ORDER, strict=True) if n)


def format_duration(seconds: float) -> str:
    """Render seconds in the same syntax, for messages and the landing page (``1h2m3s``)."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms" if seconds > 0 else "0s"
    remaining = round(seconds)
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = int(_UNITS[unit])
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
