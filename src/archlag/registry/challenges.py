"""``WWW-Authenticate`` challenges (RFC 9110 §11.6.1), read defensively.

A registry answers 401 with one or more challenges: ``Bearer realm="...",service="...",scope="..."``
or ``Basic realm="..."``. Commas inside quoted values do not split, one header may hold several
challenges (Codeberg sends a Bearer and a Basic one together), and malformed input yields
whatever could be read rather than an exception. At most :data:`MAX_CHALLENGES` challenges are
read; the client also bounds how many header values, and how long, reach the parser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

MAX_CHALLENGES = 16

_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


@dataclass(frozen=True, slots=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge; the scheme and parameter names are lower-case."""

    scheme: str
    params: Mapping[str, str]


def parse_challenges(header_values: Iterable[str]) -> list[Challenge]:
    """Parse every challenge in the given ``WWW-Authenticate`` header values (see the module)."""
    challenges: list[Challenge] = []
    for text in header_values:
        pos = 0
        while len(challenges) < MAX_CHALLENGES:
            pos = _skip(text, pos, " \t,")
            scheme = _TOKEN.match(text, pos)
            if scheme is None:
                break
            params, pos = _parse_params(text, scheme.end())
            challenges.append(Challenge(scheme.group().lower(), MappingProxyType(params)))
    return challenges


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _parse_params(text: str, pos: int) -> tuple[dict[str, str], int]:
    """Read ``name=value`` pairs; stop before a token that starts the next challenge."""
    params: dict[str, str] = {}
    while True:
        start = _skip(text, pos, " \t,")
        name = _TOKEN.match(text, start)
        if name is None:
            return params, start
        equals = _skip(text, name.end(), " \t")
        if equals >= len(text) or text[equals] != "=":
            return params, start  # the scheme of the next challenge
        value, pos = _parse_value(text, _skip(text, equals + 1, " \t"))
        params.setdefault(name.group().lower(), value)


def _parse_value(text: str, pos: int) -> tuple[str, int]:
    if pos < len(text) and text[pos] == '"':
        chars: list[str] = []
        pos += 1
        while pos < len(text) and text[pos] != '"':
            if text[pos] == "\\" and pos + 1 < len(text):
                pos += 1
            chars.append(text[pos])
            pos += 1
        return "".join(chars), pos + 1
    end = pos
    while end < len(text) and text[end] not in ", \t":
        end += 1
    return text[pos:end], end
