"""Planted secrets and every form in which one could leak into text, for the secrecy tests.

The forms are written out here independently of :func:`archlag.secrets.scrub`, so that the
tests check the scrubber against what Python, JSON, URLs and HTTP Basic actually print.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, quote_plus

from archlag import logs


def printed_forms(value: str) -> list[str]:
    """``value`` as it is, stripped, repr'd (str, bytes, twice), JSON, URL-encoded, base64."""
    raw = value.encode()
    return [
        value,
        value.strip(),
        repr(value)[1:-1],
        repr(raw)[2:-1],
        repr(repr(value))[1:-1],
        json.dumps(value)[1:-1],
        quote(value, safe=""),
        quote_plus(value),
        base64.b64encode(raw).decode(),
    ]


def basic_forms(username: str, password: str) -> list[str]:
    """What a Basic header and a Docker config ``auth`` field hold: base64 of user:password."""
    pair = f"{username}:{password}".encode()
    return [base64.b64encode(pair).decode(), base64.b64encode(pair).decode().rstrip("=")]


def leaks(text: str, secrets: list[str]) -> list[str]:
    """The forms of ``secrets`` found in ``text`` (empty when nothing leaked)."""
    return [form for secret in secrets for form in printed_forms(secret) if form in text]


@contextmanager
def archlag_logs(level: str = "debug") -> Iterator[io.StringIO]:
    """What archlag's own logging (``logs.setup``) writes, into a buffer instead of stderr.

    httpx and httpcore log at debug too, so their request lines (full URLs) are included.
    """
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    chatty = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    levels = [logger.level for logger in chatty]
    logs.setup(level)
    for logger in chatty:
        logger.setLevel(level.upper())
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], root_level = saved
        root.setLevel(root_level)
        for logger, logger_level in zip(chatty, levels, strict=True):
            logger.setLevel(logger_level)
