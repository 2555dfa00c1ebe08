"""Rate limits: what registries say about them, registry-wide back-off, and request pacing.

- Docker Hub's registry sends ``ratelimit-limit: 100;w=21600``, ``ratelimit-remaining: 76;w=21600``
  and ``docker-ratelimit-source`` on manifest requests; the Hub API sends ``X-RateLimit-Limit``,
  ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (unix time). :func:`parse_rate_limit` reads
  either and ignores garbage.
- A 429 asks for a pause: ``Retry-After`` (seconds or an HTTP date) or the Hub API's
  ``X-Retry-After`` (unix time), read by :func:`requested_wait`. :class:`Backoff` turns it into a
  pause for the whole client, clamped to ``max_backoff`` so that a nonsensical value (years,
  infinity) never becomes a wait; without a usable value it backs off exponentially.
- :class:`Pacer` spaces request starts evenly (``requests_per_minute``), so there are no bursts.

Waiting uses the client's monotonic clock; the values reported in :class:`ClientStatus` are
wall-clock (unix) times, for metrics. :class:`ClientStatus` also carries ``limits_hit``, how
often each cap of :mod:`archlag.registry.caps` refused something. Header values longer than
:data:`MAX_VALUE_LENGTH` are not read.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import anyio
import httpx

from archlag.registry.caps import no_limits_hit

MAX_HEADER_NUMBER = 10**12  # larger counts are garbage, not a quota
MAX_VALUE_LENGTH = 256  # longer rate-limit or Retry-After values are garbage, not read

_NUMBER = re.compile(r"[0-9]{1,16}(?:\.[0-9]{1,9})?")
_QUOTA = re.compile(r"([0-9]{1,13})[ \t]*(?:;(.*))?", re.DOTALL)
_SOURCE = re.compile(r"[0-9A-Za-z.:%/\[\]_-]{1,64}")  # an IPv4 or IPv6 address, maybe a prefix
_WINDOW = re.compile(r"[ \t]*w[ \t]*=[ \t]*([0-9]{1,10})[ \t]*")


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """The latest rate-limit figures a registry sent."""

    limit: int
    remaining: int
    window_seconds: float | None  # None if the registry did not say
    source: str | None  # Docker Hub's docker-ratelimit-source (the address counted)
    observed_at: float  # wall-clock unix time of the response
    reset_at: float | None = None  # wall-clock unix time the quota resets (Hub API only)


@dataclass(frozen=True, slots=True)
class ClientStatus:
    """What a client knows about its standing with the registry, for metrics."""

    rate_limit: RateLimitStatus | None
    backoff_until: float | None  # wall-clock unix time; None when not backing off
    quota_requests: int  # manifest GETs served (Docker Hub counts these as pulls)
    # how often each cap was hit, keyed by every name in archlag.core.outcomes.LIMITS
    limits_hit: Mapping[str, int] = field(default_factory=no_limits_hit)


def parse_rate_limit(headers: httpx.Headers, observed_at: float) -> RateLimitStatus | None:
    """Rate-limit figures from ``ratelimit-*`` or ``X-RateLimit-*`` headers, or None.

    Both the limit and the remaining count must be readable, non-negative integers; anything
    else (missing, negative, huge, text) yields None so that the previous figures stay.
    """
    limit = _quota(headers.get("ratelimit-limit"))
    remaining = _quota(headers.get("ratelimit-remaining"))
    if limit is not None and remaining is not None:
        source: str | None = headers.get("docker-ratelimit-source", "").strip()
        if source is not None and not _SOURCE.fullmatch(source):
            source = None
        return RateLimitStatus(
            limit[0], remaining[0], limit[1] or remaining[1], source, observed_at
        )
    limit = _quota(headers.get("x-ratelimit-limit"))
    remaining = _quota(headers.get("x-ratelimit-remaining"))
    if limit is None or remaining is None:
        return None
    reset = _number(headers.get("x-ratelimit-reset"))
    return RateLimitStatus(limit[0], remaining[0], None, None, observed_at, reset)


def _quota(value: str | None) -> tuple[int, float | None] | None:
    """``100;w=21600`` -> (100, 21600.0). The first of several comma-separated policies counts."""
    if value is None or len(value) > MAX_VALUE_LENGTH:
        return None
    match = _QUOTA.fullmatch(value.split(",", 1)[0].strip())
    if match is None or int(match.group(1)) > MAX_HEADER_NUMBER:
        return None
    window = None
    for parameter in (match.group(2) or "").split(";"):
        found = _WINDOW.fullmatch(parameter)
        if found is not None and int(found.group(1)) > 0:
            window = float(found.group(1))
    return int(match.group(1)), window


def _number(value: str | None) -> float | None:
    if value is None or len(value) > MAX_VALUE_LENGTH or not _NUMBER.fullmatch(value.strip()):
        return None
    return float(value.strip())


def requested_wait(headers: httpx.Headers, now: float) -> float | None:
    """Seconds a 429 (or 503) asks us to wait, or None if it does not say so usably.

    ``Retry-After`` is delta-seconds or an HTTP date; ``X-Retry-After`` is a unix time. Dates
    are taken relative to the response's ``Date`` header when it has one (so that a skewed
    server clock does not matter), else to ``now`` (wall-clock). Dates in the past, negative or
    unreadable values yield None. The result may be huge; :class:`Backoff` clamps it.
    """
    value = headers.get("retry-after", "").strip()
    if len(value) > MAX_VALUE_LENGTH:
        return None
    if value:
        if _NUMBER.fullmatch(value):
            return float(value)
        return _until(_http_date(value), headers, now)
    return _until(_number(headers.get("x-retry-after")), headers, now)


def _http_date(value: str) -> float | None:
    if len(value) > MAX_VALUE_LENGTH:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None


def _until(when: float | None, headers: httpx.Headers, now: float) -> float | None:
    if when is None or not math.isfinite(when):
        return None
    server_now = _http_date(headers.get("date", ""))
    wait = when - (server_now if server_now is not None else now)
    return wait if wait > 0 else None


class Backoff:
    """A registry-wide pause after 429s, on the monotonic clock."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        max_backoff: float,
        initial_wait: float,
        jitter: float,
    ) -> None:
        if not (math.isfinite(max_backoff) and max_backoff > 0):
            raise ValueError("max_backoff must be a positive number of seconds")
        self._clock = clock
        self._max = max_backoff
        self._initial = initial_wait
        self._jitter = jitter
        self._until: float | None = None
        self._streak = 0  # 429s in a row

    def remaining(self) -> float:
        """Seconds left to wait (0 when not backing off)."""
        if self._until is None:
            return 0.0
        left = self._until - self._clock()
        if left <= 0:
            self._until = None
            return 0.0
        return left

    def throttled(self, asked: float | None) -> float:
        """Start (or extend) the pause after a 429; return its length in seconds."""
        if asked is not None and math.isfinite(asked) and asked >= 0:
            wait = min(self._max, asked)
        else:
            exponential = self._initial * 2 ** min(self._streak, 64)
            # Jitter spreads clients apart; it is not security-relevant randomness.
            wait = min(self._max, exponential) * (1 - self._jitter * random.random())  # noqa: S311
        self._streak += 1
        self.extend(wait)
        return max(wait, self.remaining())

    def extend(self, wait: float) -> None:
        """Make sure the pause lasts at least ``wait`` more seconds (clamped)."""
        until = self._clock() + min(self._max, max(0.0, wait))
        if self._until is None or until > self._until:
            self._until = until

    def succeeded(self) -> None:
        self._streak = 0


class Pacer:
    """At most one request start every ``60 / requests_per_minute`` seconds, no bursts."""

    def __init__(
        self,
        requests_per_minute: int,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        if requests_per_minute < 1:
            raise ValueError("requests_per_minute must be at least 1")
        self.interval = 60.0 / requests_per_minute
        self._clock = clock
        self._sleep = sleep
        self._lock = anyio.Lock()
        self._next: float | None = None

    async def wait(self) -> None:
        """Return when the next request may start."""
        async with self._lock:
            now = self._clock()
            if self._next is not None and now < self._next:
                await self._sleep(self._next - now)
                now = max(self._clock(), self._next)
            self._next = now + self.interval
