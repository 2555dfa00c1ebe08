"""Prometheus durations: bounded parsing, and formatting that reads back."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archlag.core.durations import (
    MAX_DURATION_SECONDS,
    MAX_DURATION_TEXT,
    DurationError,
    format_duration,
    parse_duration,
)

UNIT_MS = {"y": 31_536_000_000, "w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000,
           "s": 1_000, "ms": 1}  # fmt: skip
UNITS = tuple(UNIT_MS)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("0s", 0.0),
        ("30s", 30.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("1s500ms", 1.5),
        ("2d", 172800.0),
        ("1y2w", 31536000.0 + 1209600.0),
        (" 5m ", 300.0),
        ("100y", float(MAX_DURATION_SECONDS)),
    ],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "is not a duration"),
        ("5", "is not a duration"),
        ("1m1h", "is not a duration"),
        ("1.5h", "is not a duration"),
        ("-1s", "is not a duration"),
        ("1s\n1s", "is not a duration"),
        ("\u0663s", "is not a duration"),  # an Arabic-Indic digit: Prometheus wants ASCII
        ("9" * 400 + "s", "too long"),
        ("101y", "longer than the longest duration accepted, 100y"),
        ("3153600000s1ms", "longer than the longest"),
    ],
)
def test_rejections_are_duration_errors(text: str, fragment: str) -> None:
    with pytest.raises(DurationError, match=re.escape(fragment)):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "display", "exact"),
    [
        (0, "0s", "0s"),
        (0.25, "250ms", "250ms"),
        (1.5, "2s", "1s500ms"),
        (63.4, "1m3s", "1m3s400ms"),
        (90061.001, "1d1h1m1s", "1d1h1m1s1ms"),
        (31536000, "365d", "365d"),
    ],
)
def test_format(seconds: float, display: str, exact: str) -> None:
    assert format_duration(seconds) == display
    assert format_duration(seconds, exact=True) == exact


@given(st.text())
def test_parse_raises_only_duration_errors(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except DurationError:
        return
    assert 0 <= seconds <= MAX_DURATION_SECONDS


duration_parts = st.lists(
    st.tuples(st.sampled_from(UNITS), st.integers(min_value=0, max_value=10**13)),
    min_size=1,
    unique_by=lambda part: part[0],
).map(lambda parts: sorted(parts, key=lambda part: UNITS.index(part[0])))


@given(duration_parts)
def test_durations_are_exact_bounded_and_read_back(parts: list[tuple[str, int]]) -> None:
    text = "".join(f"{count}{unit}" for unit, count in parts)
    total_ms = sum(count * UNIT_MS[unit] for unit, count in parts)
    if len(text) > MAX_DURATION_TEXT:
        with pytest.raises(DurationError, match="too long"):
            parse_duration(text)
        return
    if total_ms > MAX_DURATION_SECONDS * 1000:
        with pytest.raises(DurationError, match="longer than the longest"):
            parse_duration(text)
        return
    seconds = parse_duration(text)
    assert seconds == total_ms / 1000
    assert parse_duration(format_duration(seconds, exact=True)) == seconds


@given(st.integers(min_value=1, max_value=MAX_DURATION_SECONDS))
def test_whole_seconds_read_back_from_the_display_form(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds
