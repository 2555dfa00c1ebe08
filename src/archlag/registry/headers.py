"""Header values: those a registry sends, validated before use, and those built from secrets.

A registry's headers are untrusted, and each is read here once, within bounds:

- ``Content-Type``: :func:`content_type` gives the media type without parameters, or "" when it
  is absent or malformed (then the body's own ``mediaType`` decides);
- ``Docker-Content-Digest``: :func:`content_digest` gives a verifiable digest or None;
- repeated headers such as ``WWW-Authenticate``: :func:`bounded_values` keeps at most
  ``max_count`` values of at most ``max_length`` characters each.

(``Link`` is read by :mod:`~archlag.registry.links`, ``Retry-After`` and the rate-limit headers by
:mod:`~archlag.registry.ratelimit`.) Refused values are counted as ``bad_header``
(:mod:`~archlag.registry.caps`).

Values archlag sends that hold a secret must be sendable as they are: :func:`is_header_token`
says whether a token may go into ``Authorization: Bearer`` (visible ASCII, no spaces, bounded);
:func:`has_control_character` finds the newline a secret file or variable may still end with.
"""

from __future__ import annotations

import re

import httpx

from archlag.core.names import is_digest, is_media_type
from archlag.registry.errors import BadResponseError, Where

MAX_CONTENT_TYPE_LENGTH = 256
MAX_TOKEN_LENGTH = 16 << 10  # JWTs of real registries are 1-3 KiB; servers refuse 8-16 KiB headers

_HEADER_TOKEN = re.compile(r"[\x21-\x7e]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def content_type(headers: httpx.Headers, where: Where) -> str:
    """The media type of ``Content-Type`` in lower case, without parameters; "" if unusable."""
    value: str | None = headers.get("content-type")
    if value is None:
        return ""
    media_type = value.split(";", 1)[0].strip()
    if len(value) > MAX_CONTENT_TYPE_LENGTH or not is_media_type(media_type):
        where.hit("bad_header")
        return ""
    return media_type.lower()


def content_digest(headers: httpx.Headers, where: Where) -> str | None:
    """``Docker-Content-Digest``, or None if the registry omitted it.

    Raises:
        BadResponseError: the header is there but not a sha256/sha512 digest.
    """
    value: str | None = headers.get("docker-content-digest")
    if value is None:
        return None
    if not is_digest(value):
        where.hit("bad_header")
        raise where.error(BadResponseError, "Docker-Content-Digest is not a valid digest")
    return value


def bounded_values(
    headers: httpx.Headers, name: str, where: Where, *, max_count: int, max_length: int
) -> list[str]:
    """The values of header ``name``: the first ``max_count`` of at most ``max_length`` chars."""
    values = headers.get_list(name)
    kept = [value for value in values[:max_count] if len(value) <= max_length]
    if len(kept) < len(values):
        where.hit("bad_header")
    return kept


def is_header_token(text: str) -> bool:
    """True if ``text`` can be sent as a bearer token: visible ASCII, at most 16 KiB."""
    return len(text) <= MAX_TOKEN_LENGTH and _HEADER_TOKEN.fullmatch(text) is not None


def has_control_character(text: str) -> bool:
    """True if ``text`` holds a control character (C0, DEL or C1), such as a newline."""
    return _CONTROL.search(text) is not None
