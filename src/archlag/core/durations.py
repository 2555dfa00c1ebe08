"""Prometheus duration syntax: ``1h30m``, ``45s``, ``500ms``, ``2d``.

:func:`parse_duration` raises only :class:`DurationError` (a :class:`ValueError`), whatever the
text: it is bounded in length (:data:`MAX_DURATION_TEXT` characters) and in value
(:data:`MAX_DURATION_SECONDS`), and it counts in whole milliseconds, so no input overflows.
"""

from __future__ import annotations

import re

_UNIT_MS = {
    "y": 31_536_000_000, "w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000,
    "s": 1_000, "ms": 1,
}  # fmt: skip
_ORDER = tuple(_UNIT_MS)
# ASCII digits only, as Prometheus; every unit at most once, in descending order.
_DURATION = re.compile("".join(rf"(?:([0-9]+){unit})?" for unit in _ORDER))
MAX_DURATION_TEXT = 64  # characters: 1y2w3d4h5m6s7ms needs 15
MAX_DURATION_SECONDS = 100 * 31_536_000  # 100y: longer than any setting or wait makes sense for


class DurationError(ValueError):
    """Text that is not a Prometheus duration, or one longer than :data:`MAX_DURATION_SECONDS`."""


def parse_duration(text: str) -> float:
    """Return the duration in seconds (a whole number of milliseconds).

    ``0`` alone is accepted (as Prometheus does); every other value needs units in descending order.

    Raises:
        DurationError: the text is empty, has no unit, has units out of order, is longer than
            :data:`MAX_DURATION_TEXT` characters or means more than :data:`MAX_DURATION_SECONDS`.
    """
    text = text.strip()
    if text == "0":
        return 0.0
    if len(text) > MAX_DURATION_TEXT:
        raise DurationError(f"{text[:20]!r}... is not a duration: too long")
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise DurationError(f"{text!r} is not a duration like 30s, 5m, 1h30m or 500ms")
    # Integers: a 60-digit count is still exact here, and bounded before it becomes a float.
    total_ms = sum(int(n) * _UNIT_MS[u] for n, u in zip(match.groups(), _ORDER, strict=True) if n)
    if total_ms > MAX_DURATION_SECONDS * 1000:
        raise DurationError(f"{text!r} is longer than the longest duration accepted, 100y")
    return total_ms / 1000


def format_duration(seconds: float, *, exact: bool = False) -> str:
    """Render finite seconds in the same syntax (``1h2m3s``), for messages and pages.

    By default whole seconds from 1s up (a reader wants ``1m3s``, not ``1m3s417ms``). With
    ``exact``, to the millisecond (``1s500ms``), so that :func:`parse_duration` reads back the
    same value: what the configuration view writes.
    """
    if seconds <= 0:
        return "0s"
    units: tuple[str, ...] = ("d", "h", "m", "s", "ms")
    if seconds < 1 or exact:
        remaining = round(seconds * 1000)
    else:
        remaining, units = round(seconds) * 1000, units[:-1]
    parts = []
    for unit in units:
        count, remaining = divmod(remaining, _UNIT_MS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
