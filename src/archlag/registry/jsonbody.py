"""JSON bodies from registries, decoded within a size and a nesting limit, without recursion.

Every JSON body a registry sends (manifests, indexes, image configs, tag lists, token replies,
error bodies, Docker Hub and Quay API answers) goes through :func:`loads`. Python's decoder
recurses once per level of nesting, so a body 60,000 levels deep would raise ``RecursionError``
(or build a deep structure first); here the nesting is measured by a linear scan *before*
decoding, and a body deeper than :data:`MAX_DEPTH` is refused without being decoded.

The body must be UTF-8 (RFC 8259; no other encoding is guessed), at most ``max_bytes`` long,
and hold only finite numbers (``NaN``, ``Infinity`` and ``1e999`` are refused, so that no
lifetime or time stamp can become infinite). :func:`loads` raises only :class:`JsonBodyError`.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

MAX_BYTES = 16 << 20  # the largest body any registry request accepts (a tag-list page)
MAX_DEPTH = 32  # real documents nest 6 deep at most (index > manifests > entry > platform > list)

# A JSON string: from a quote to the next unescaped quote, or to the end of the text if there
# is none. The closing alternative always matches, so a match never backtracks.
_STRING = re.compile(r'"(?:[^"\\]+|\\.)*(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DELTAS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes


class JsonBodyError(ValueError):
    """Why a body is not usable JSON. ``limit`` names the cap that refused it, if one did:
    ``"body_too_large"`` or ``"json_too_deep"`` (keys of :data:`archlag.core.outcomes.LIMITS`).
    The message completes a sentence such as "manifest <message>".
    """

    def __init__(self, message: str, limit: str | None = None) -> None:
        super().__init__(message)
        self.limit = limit


def loads(body: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The decoded body.

    Raises:
        JsonBodyError: too large, not UTF-8, nested deeper than ``max_depth``, or not JSON.
    """
    if len(body) > max_bytes:
        raise JsonBodyError(f"is larger than {max_bytes} bytes", "body_too_large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonBodyError("is not JSON (not UTF-8)") from None
    if nesting_exceeds(text, max_depth):
        raise JsonBodyError(f"is nested deeper than {max_depth} levels", "json_too_deep")
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # RecursionError cannot happen after the check
        raise JsonBodyError("is not JSON") from None


def nesting_exceeds(text: str, max_depth: int) -> bool:
    """True if arrays and objects in ``text`` nest deeper than ``max_depth`` (linear time).

    Brackets inside strings do not count. For text that is not JSON the answer is an upper
    bound of what a decoder would reach before it failed.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return False  # cannot be deeper than the number of opening brackets
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    deltas = memoryview(brackets.encode("ascii").translate(_DELTAS)).cast("b")
    return max(accumulate(deltas), default=0) > max_depth


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
