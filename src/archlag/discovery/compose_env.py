"""Compose's variables: ``${VAR}`` interpolation as Compose does it, and the ``.env`` file.

:func:`interpolate` knows ``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or empty),
``${VAR-default}`` (unset), ``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+alternative}``,
``${VAR+alternative}`` and ``$$`` (a literal ``$``); a default or alternative may hold further
interpolation, expanded only when it is used, at most
:data:`~archlag.discovery.limits.MAX_INTERPOLATION_DEPTH` deep. An unset ``${VAR}`` is empty, as
in Compose. :func:`read_dotenv` reads ``KEY=VALUE`` lines (``export``, quotes, comments).

Both raise only :class:`InterpolationError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from archlag.discovery.limits import MAX_INTERPOLATION_DEPTH

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_DOTENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)")
# Escapes of a double-quoted .env value; \$ stays a literal $ through the interpolation after.
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$$"}


class InterpolationError(ValueError):
    """A value Compose would refuse: a required variable unset, or ``$`` not followed by a name."""


def interpolate(text: str, variables: Mapping[str, str], depth: int = 0) -> str:
    """``text`` with every variable replaced.

    Raises:
        InterpolationError: ``${VAR:?message}`` or ``${VAR?message}`` of an unset variable, a
            ``$`` that starts nothing, an unclosed ``${``, or nesting deeper than the bound.
    """
    if depth > MAX_INTERPOLATION_DEPTH:
        raise InterpolationError("variables nest too deeply")
    out: list[str] = []
    position = 0
    while (dollar := text.find("$", position)) >= 0:
        out.append(text[position:dollar])
        following = text[dollar + 1 : dollar + 2]
        if following == "$":
            out.append("$")
            position = dollar + 2
        elif following == "{":
            end = _closing_brace(text, dollar + 2)
            out.append(_braced(text[dollar + 2 : end], variables, depth))
            position = end + 1
        elif (name := _NAME.match(text, dollar + 1)) is not None:
            out.append(variables.get(name.group(), ""))
            position = name.end()
        else:
            raise InterpolationError(f"invalid interpolation at {text[dollar : dollar + 20]!r}")
    out.append(text[position:])
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    """Where the ``${`` whose content starts at ``start`` ends, nested ones skipped."""
    level, position = 1, start
    while position < len(text):
        if text.startswith("$$", position):
            position += 2
            continue
        if text.startswith("${", position):
            level += 1
            position += 2
            continue
        if text[position] == "}":
            level -= 1
            if level == 0:
                return position
        position += 1
    raise InterpolationError(f"unclosed ${{ in {text[:60]!r}")


def _braced(inside: str, variables: Mapping[str, str], depth: int) -> str:
    name = _NAME.match(inside)
    if name is None:
        raise InterpolationError(f"invalid interpolation ${{{inside[:40]}}}")
    rest = inside[name.end() :]
    value = variables.get(name.group())
    if not rest:
        return value or ""
    operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
    if operator is None:
        raise InterpolationError(f"invalid interpolation ${{{inside[:40]}}}")
    word = rest[len(operator) :]
    empty_counts = operator.startswith(":")
    missing = value is None or (empty_counts and value == "")
    kind = operator[-1]
    if kind == "-":
        return interpolate(word, variables, depth + 1) if missing else value or ""
    if kind == "+":
        return "" if missing else interpolate(word, variables, depth + 1)
    if missing:  # "?"
        message = interpolate(word, variables, depth + 1) or "it is required"
        raise InterpolationError(f"variable {name.group()} is not set: {message[:200]}")
    return value or ""


def read_dotenv(text: str, variables: Mapping[str, str]) -> dict[str, str]:
    """The variables of a ``.env`` file; values refer to ``variables`` and earlier lines.

    Raises:
        InterpolationError: a line that is not ``KEY=VALUE``, or a value that cannot be
            interpolated.
    """
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.fullmatch(line)
        if match is None:
            raise InterpolationError(f".env line {number} is not KEY=VALUE")
        try:
            found[match[1]] = _dotenv_value(match[2].strip(), {**variables, **found})
        except InterpolationError as exc:
            raise InterpolationError(f".env line {number}: {exc}") from None
    return found


def _dotenv_value(raw: str, variables: Mapping[str, str]) -> str:
    if raw.startswith("'"):
        end = raw.find("'", 1)
        if end < 0:
            raise InterpolationError("unclosed single quote")
        return raw[1:end]
    if raw.startswith('"'):
        out, position = [], 1
        while position < len(raw) and raw[position] != '"':
            if raw[position] == "\\" and position + 1 < len(raw):
                escaped = raw[position + 1]
                out.append(_ESCAPES.get(escaped, "\\" + escaped))
                position += 2
                continue
            out.append(raw[position])
            position += 1
        if position >= len(raw):
            raise InterpolationError("unclosed double quote")
        return interpolate("".join(out), variables)
    comment = re.search(r"\s#", raw)
    return interpolate(raw[: comment.start()] if comment else raw, variables).strip()
