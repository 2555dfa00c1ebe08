"""Looking at a tag through a running archlag (``--server URL``): its read API, no registry.

It costs the registry nothing (no quota), and archlag's first-seen times are exact where it
measured them, so the report also says when each platform appeared and with what precision.
Without ``--platform``, the wanted platforms are what the tag's publication expects in that
archlag (or, for a tag it has not seen yet, what a publication beginning now would expect).

Errors: failures talking to the archlag server are raised as the registry errors that mean the
same thing to ``check`` and ``wait`` (their ``registry`` is the server's URL):
:class:`~archlag.registry.RegistryConnectionError` (cannot connect),
:class:`~archlag.registry.RegistryTimeoutError`, :class:`~archlag.registry.ServerError` (5xx),
:class:`~archlag.registry.NotFoundError` (that archlag does not watch the image),
:class:`~archlag.registry.UnauthorizedError` (401 or 403: ``--server.credentials-file``) and
:class:`~archlag.registry.BadResponseError` (anything else it answered).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx

from archlag.core.platforms import Platform, PlatformError, parse_platform
from archlag.core.references import ImageReference
from archlag.gate.report import FROM_SERVER, Due, Report, Timing, Wanted
from archlag.registry import (
    BadResponseError,
    NotFoundError,
    RegistryConnectionError,
    RegistryError,
    RegistryTimeoutError,
    ServerError,
    TagContent,
    UnauthorizedError,
)
from archlag.registry.jsonbody import JsonBodyError, loads

MAX_DOCUMENT_BYTES = 16 << 20


@dataclass(frozen=True, slots=True)
class ServerLooker:
    """A :class:`~archlag.gate.report.Looker` over a running archlag's ``/api/v1/tags``."""

    http: httpx.AsyncClient
    url: str  # the archlag's base URL, e.g. http://archlag:10043

    async def expectation(self, image: ImageReference) -> Wanted:
        document = await self._tags(image)
        entry = _entry(document, image.tag or "")
        if entry is not None:
            expected = _platforms(entry.get("expected"), self.url)
            learned = tuple(str(t) for t in entry.get("learned_from") or ())
        else:
            new = document.get("expected_for_new_tag") or {}
            expected = _platforms(new.get("platforms"), self.url)
            learned = tuple(str(t) for t in new.get("learned_from") or ())
        return Wanted(expected, FROM_SERVER, learned)

    async def look(
        self, image: ImageReference, expectation: Wanted, previous: Report | None
    ) -> Report:
        entry = _entry(await self._tags(image), image.tag or "")
        if entry is None:
            return Report(image, expectation, None)
        platforms: dict[Platform, str] = {}
        timings: dict[Platform, Timing] = {}
        due: dict[Platform, Due] = {}
        for item in entry.get("platforms") or []:
            if not isinstance(item, dict):
                continue
            if item.get("available") is not True:
                if (found := _due(item)) is not None:
                    due[_platform(item.get("platform"), self.url)] = found
                continue
            platform = _platform(item.get("platform"), self.url)
            first_seen = _number(item.get("first_seen"))
            if first_seen is None:
                raise BadResponseError("an available platform has no first_seen", registry=self.url)
            platforms[platform] = str(item.get("digest") or "")
            timings[platform] = Timing(
                first_seen,
                _number(item.get("delay_seconds")) or 0.0,
                _number(item.get("delay_uncertainty_seconds")),
                str(item.get("source") or ""),
            )
        content = TagContent(str(entry.get("digest") or ""), "", platforms)
        return Report(image, expectation, content, timings, due)

    async def _tags(self, image: ImageReference) -> dict[str, Any]:
        params = {"image": f"{image.registry}/{image.repository}:{image.tag}"}
        try:
            response = await self.http.get(f"{self.url}/api/v1/tags", params=params)
            body = await response.aread()
        except httpx.TimeoutException:
            raise RegistryTimeoutError(
                "archlag did not answer in time", registry=self.url
            ) from None
        except httpx.HTTPError as exc:
            detail = f"{type(exc).__name__}"
            raise RegistryConnectionError(detail, registry=self.url) from None
        if len(body) > MAX_DOCUMENT_BYTES:
            raise BadResponseError("the answer is too large", registry=self.url)
        if response.status_code in (401, 403):  # the guard answers in plain text
            raise _error(response.status_code, {}, self.url)
        try:
            document = loads(body)
        except JsonBodyError:
            raise BadResponseError("the answer is not JSON", registry=self.url) from None
        if not isinstance(document, dict):
            raise BadResponseError("the answer is not a JSON object", registry=self.url)
        if response.status_code != 200:
            raise _error(response.status_code, document, self.url)
        return document


def _error(status: int, document: dict[str, Any], url: str) -> RegistryError:
    message = str(document.get("error") or f"HTTP {status}")[:300]
    if status in (401, 403):
        return UnauthorizedError(f"HTTP {status}: {message}", registry=url)
    if status == 404:
        return NotFoundError(message, registry=url)
    if status >= 500:
        return ServerError(message, registry=url)
    return BadResponseError(message, registry=url)


def _entry(document: dict[str, Any], tag: str) -> dict[str, Any] | None:
    tags = document.get("tags")
    if not isinstance(tags, list):
        return None
    return next((t for t in tags if isinstance(t, dict) and t.get("tag") == tag), None)


def _platforms(values: object, url: str) -> frozenset[Platform]:
    if not isinstance(values, list):
        return frozenset()
    return frozenset(_platform(value, url) for value in values)


def _platform(value: object, url: str) -> Platform:
    try:
        return parse_platform(str(value))
    except PlatformError:
        raise BadResponseError(f"the answer names a platform {value!r}", registry=url) from None


def _due(item: dict[str, Any]) -> Due | None:
    """A missing platform's lateness, when the answer has it (archlag before 0.2 has not); a
    value of the wrong type counts as absent, and only the known bases are kept."""
    late_after = _number(item.get("late_after"))
    if late_after is None:
        return None
    history = item.get("expected_delay")
    history = history if isinstance(history, dict) else {}
    observations = _number(history.get("observations"))
    basis = item.get("late_after_basis")
    return Due(
        late_after,
        item.get("late") is True,
        basis if basis in ("history", "stall_after") else "",
        _number(item.get("expected_by")),
        _number(history.get("typical_seconds")),
        min(int(observations), 1_000_000) if observations is not None and observations > 0 else 0,
    )


def _number(value: object) -> float | None:
    """A finite number from the answer, or None (an integer too large for a float is None)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
