"""Secrets: a wrapper that keeps them out of reprs, and a scrubber that keeps them out of text.

:class:`Secret` never shows its value in ``str()`` or ``repr()``. Every Secret also registers its
value while it is alive, so :func:`scrub` knows every secret the configuration, the credential
sources and the token flows hold, without anyone wiring them together; the logging filter in
:mod:`archlag.logs` and :func:`archlag.registry.errors.sanitize` use it.

:func:`scrub` replaces each known value, and each form in which it could be printed, with
``***``: as it is, without surrounding white space (a secret file's trailing newline), escaped as
Python prints strings and bytes (``\\n``, ``\\x1b``, ``\\\\``; once and twice, for a repr of a
repr), JSON-escaped, URL-encoded (as forms, paths and queries encode it), and base64 (of a
Basic ``user:password`` pair too, which
:class:`~archlag.registry.credentials.BasicCredentials` registers as a Secret of its own).
Values shorter than :data:`MIN_SCRUBBED_LENGTH` are not scrubbed: they cannot be told apart
from ordinary text.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SCRUBBED_LENGTH = 4
_URL_KEPT = "!$&'()*+,;=:@/?~[]"  # what URL parsers leave unencoded in paths and queries

_lock = threading.RLock()  # reentrant: a Secret may be collected while the lock is held
_live: dict[str, int] = {}  # value -> number of live Secrets holding it
_forms: dict[str, tuple[str, ...]] = {}  # value -> its printable forms, for live values


class Secret:
    """A secret string. ``str()`` and ``repr()`` never show it; call :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        with _lock:
            _live[value] = _live.get(value, 0) + 1

    def __del__(self) -> None:
        value = getattr(self, "_value", None)
        if value is None or _lock is None:  # interpreter shutdown
            return
        with _lock:
            count = _live.get(value, 0) - 1
            if count > 0:
                _live[value] = count
            else:
                _live.pop(value, None)
                _forms.pop(value, None)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return Secret, (self._value,)  # copies go through __init__ and are registered too

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def known_secrets() -> list[str]:
    """The values of every live :class:`Secret`."""
    with _lock:
        return list(_live)


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every form of every known secret, and of each of ``extra``, masked."""
    forms: set[str] = set()
    with _lock:
        # A copy: computing forms allocates, a garbage collection may then release a Secret,
        # and its __del__ (in this thread, through the reentrant lock) changes _live.
        live = list(_live)
    for value in live:
        cached = _forms.get(value)
        if cached is None:
            cached = printable_forms(value)
            with _lock:
                if value in _live:
                    _forms[value] = cached
        forms.update(cached)
    for value in extra:
        forms.update(printable_forms(value))
    for form in sorted(forms, key=len, reverse=True):  # a longer form may contain a shorter
        if form in text:
            text = text.replace(form, MASK)
    return text


def printable_forms(value: str) -> tuple[str, ...]:
    """The ways ``value`` may show up in a message or log line (see the module docstring)."""
    if len(value) < MIN_SCRUBBED_LENGTH:
        return ()
    # surrogatepass: an environment variable holding bytes that are not UTF-8 arrives with
    # lone surrogates (os.environ decodes with surrogateescape), and must not break scrubbing
    raw = value.encode("utf-8", "surrogatepass")
    plain = [value, value.strip()]
    escaped = [
        _inner(repr(value)),
        _inner(repr(raw), 2),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(raw, safe=""),
        quote(raw),
        quote(raw, safe=_URL_KEPT),
        quote_plus(raw),
    ]
    encoded = [
        base64.b64encode(raw).decode("ascii"),
        base64.b64encode(raw).decode("ascii").rstrip("="),
        base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="),
    ]
    twice = [_inner(repr(form)) for form in (*plain, *escaped)]
    found = dict.fromkeys(plain + escaped + encoded + twice)
    return tuple(form for form in found if len(form) >= MIN_SCRUBBED_LENGTH)


def _inner(text: str, prefix: int = 1) -> str:
    """A repr without its quotes (and ``b`` prefix)."""
    return text[prefix:-1]


def scrub_value(value: Any) -> Any:
    """``value`` itself if its text holds no secret, else its scrubbed text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    cleaned = scrub(text)
    return value if cleaned == text else cleaned
