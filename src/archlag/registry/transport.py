"""Request machinery shared by the registry, Docker Hub API and Quay API clients.

:class:`HttpSession` owns one httpx connection pool and sends requests with everything a polite,
robust client needs, in this order for each attempt:

1. registry-wide back-off: after a 429 every request waits if the pause is short
   (``RetryPolicy.max_wait``) or raises :class:`~archlag.registry.errors.RateLimitedError` at
   once, without sending anything;
2. the concurrency limit, then pacing (``requests_per_minute``);
3. the exchange itself, reported to the :class:`RequestObserver` with a bounded result;
4. rate-limit headers are recorded, served manifest GETs counted (a body over its limit is
   refused and counted in :mod:`~archlag.registry.caps`);
5. transport errors, timeouts and 5xx are retried with exponential backoff; a 429 starts the
   back-off of step 1.

It knows nothing of authentication or of what the requests mean; callers build the requests
and turn replies into results.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self, TypedDict

import anyio
import httpx

import archlag
from archlag.registry.bodies import ACCEPT_ENCODING, BodyError, read_body
from archlag.registry.caps import LimitCounter
from archlag.registry.errors import (
    BadResponseError,
    RateLimitedError,
    RegistryConnectionError,
    RegistryError,
    RegistryTimeoutError,
    Where,
    describe_error_body,
    error_for_status,
    result_for_status,
    sanitize,
)
from archlag.registry.ratelimit import (
    Backoff,
    ClientStatus,
    Pacer,
    RateLimitStatus,
    parse_rate_limit,
    requested_wait,
)

MAX_SMALL_BYTES = 64 << 10  # /v2/ and error bodies (error bodies are truncated, not refused)
DEFAULT_MAX_BACKOFF = 3600.0


class RequestObserver(Protocol):
    """Told about every HTTP attempt; ``result`` is one of :data:`errors.RESULTS`."""

    def request_finished(self, registry: str, method: str, result: str, seconds: float) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts per request, and the exponential backoff between them (seconds).

    ``max_wait`` is also the longest pause a request sits out in place; a longer registry-wide
    back-off makes requests fail fast with :class:`RateLimitedError` instead.
    """

    attempts: int = 4
    initial_wait: float = 0.5
    max_wait: float = 30.0
    jitter: float = 0.25  # each wait is shortened by up to this fraction, at random

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.initial_wait < 0 or self.max_wait < 0:
            raise ValueError("waits must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def backoff(self, retry: int) -> float:
        """The wait before retry number ``retry`` (0 for the first retry)."""
        wait = min(self.max_wait, self.initial_wait * 2 ** min(retry, 64))
        # Jitter spreads clients apart; it is not security-relevant randomness.
        return float(wait * (1 - self.jitter * random.random()))  # noqa: S311


@dataclass(frozen=True, slots=True)
class Reply:
    """A response whose body has been read (within a size limit)."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: httpx.URL


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One request to send (possibly several times)."""

    method: str
    url: httpx.URL
    headers: Mapping[str, str]
    limit: int  # largest body accepted on success
    data: Mapping[str, str] | None = None  # form fields
    json: Any = None
    counts_quota: bool = False  # a manifest GET: Docker Hub counts it as a pull


DEFAULT_RETRY = RetryPolicy()  # frozen, so one shared default is harmless


class SessionOptions(TypedDict, total=False):
    """The :class:`HttpSession` settings every client passes through unchanged."""

    concurrency: int
    timeout: float
    retry: RetryPolicy
    observer: RequestObserver | None
    transport: httpx.AsyncBaseTransport | None
    sleep: Callable[[float], Awaitable[None]]
    clock: Callable[[], float]
    wall_clock: Callable[[], float]
    max_backoff: float
    requests_per_minute: int | None


class HttpSession:
    """Sends requests for one client; see the module docstring. Call :meth:`aclose`."""

    def __init__(
        self,
        name: str,
        *,
        secrets: Callable[[], Iterable[str]],
        concurrency: int = 4,
        timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        observer: RequestObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        requests_per_minute: int | None = None,
    ) -> None:
        self.name = name
        self._secrets = secrets
        self._timeout = timeout
        self.retry = retry
        self._observer = observer
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._backoff = Backoff(
            clock, max_backoff=max_backoff, initial_wait=retry.initial_wait, jitter=retry.jitter
        )
        self._pacer = None
        if requests_per_minute is not None:
            self._pacer = Pacer(requests_per_minute, clock, sleep)
        self._rate_limit: RateLimitStatus | None = None
        self._quota_requests = 0
        self.limits = LimitCounter()
        self._http = httpx.AsyncClient(
            transport=transport,
            follow_redirects=True,  # httpx drops Authorization on cross-origin redirects
            timeout=timeout,
            # Only what bodies.read_body inflates itself, within the body's limit.
            headers={
                "User-Agent": f"archlag/{archlag.__version__}",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def status(self) -> ClientStatus:
        remaining = self._backoff.remaining()
        until = self._wall_clock() + remaining if remaining > 0 else None
        return ClientStatus(self._rate_limit, until, self._quota_requests, self.limits.snapshot())

    def secrets(self) -> list[str]:
        return [s for s in self._secrets() if s]

    def error(self, reply: Reply, where: Where, *, action: str = "") -> RegistryError:
        """The error for an unsuccessful reply; its untrusted body is sanitised."""
        detail = sanitize(describe_error_body(reply.body), self.secrets())
        retry_after = None
        if reply.status == 429:
            retry_after = self._backoff.remaining() or None
        return error_for_status(reply.status, detail, where, action=action, retry_after=retry_after)

    async def send(self, request: Outgoing, where: Where) -> Reply:
        """Send with back-off, pacing and retries; return the final reply, whatever its status.

        Raises:
            RateLimitedError: backing off for longer than the retry policy's ``max_wait``.
            RegistryTimeoutError, RegistryConnectionError: still failing after the retries.
            RegistryError: a 429 or 5xx that persisted through the retries.
        """
        policy = self.retry
        retry = 0
        while True:
            last = retry + 1 >= policy.attempts
            await self._sit_out_backoff(where)
            try:
                reply = await self._attempt(request, where)
            except (RegistryTimeoutError, RegistryConnectionError):
                if last:
                    raise
                await self._sleep(policy.backoff(retry))
                retry += 1
                continue
            if reply.status == 429:
                wait = self._backoff.throttled(requested_wait(reply.headers, self._wall_clock()))
                if last or wait > policy.max_wait:
                    raise self.error(reply, where)
            elif reply.status < 500:
                self._backoff.succeeded()
                return reply
            else:
                asked = requested_wait(reply.headers, self._wall_clock())
                if last or (asked is not None and asked > policy.max_wait):
                    raise self.error(reply, where)
                await self._sleep(asked if asked is not None else policy.backoff(retry))
            retry += 1

    async def _sit_out_backoff(self, where: Where) -> None:
        remaining = self._backoff.remaining()
        if remaining <= 0:
            return
        if remaining > self.retry.max_wait:
            raise RateLimitedError(
                f"rate limited: backing off for another {remaining:.0f} s; nothing sent",
                registry=where.registry,
                repository=where.repository,
                reference=where.reference,
                retry_after=remaining,
            )
        await self._sleep(remaining)

    async def _attempt(self, request: Outgoing, where: Where) -> Reply:
        """One HTTP exchange, reported to the observer; httpx failures become RegistryErrors."""
        method = request.method
        async with self._limiter:
            if self._pacer is not None:
                await self._pacer.wait()
                await self._sit_out_backoff(where)  # a 429 may have arrived meanwhile
            started = self._clock()
            try:
                with anyio.fail_after(self._timeout):
                    reply = await self._exchange(request, where)
            except RegistryError as error:
                self._report(method, error.result, started)
                raise
            except (httpx.TimeoutException, TimeoutError):
                self._report(method, RegistryTimeoutError.result, started)
                raise where.error(RegistryTimeoutError, f"{method} timed out") from None
            except (httpx.HTTPError, httpx.InvalidURL, UnicodeError) as exc:
                # A failed exchange is the connection's. The registry answered, unusably, with a
                # redirect to ftp:// (UnsupportedProtocol) or to a URL that cannot be used
                # (InvalidURL), or a header value that is not ASCII (UnicodeError; values from
                # secrets are checked before, see auth).
                failed = isinstance(exc, httpx.TransportError) and not isinstance(
                    exc, httpx.UnsupportedProtocol
                )
                cls = RegistryConnectionError if failed else BadResponseError
                self._report(method, cls.result, started)
                detail = sanitize(f"{type(exc).__name__}: {exc}", self.secrets())
                raise where.error(cls, detail) from None
            self._report(method, result_for_status(reply.status), started)
            self._record(request, reply)
            return reply

    async def _exchange(self, request: Outgoing, where: Where) -> Reply:
        built = self._http.build_request(
            request.method,
            request.url,
            headers=dict(request.headers),
            data=request.data,
            json=request.json,
        )
        response = await self._http.send(built, stream=True)
        try:
            success = 200 <= response.status_code < 300
            if request.method == "HEAD":  # Content-Length describes the GET body, which never comes
                # ... but the answer must be read to its end (h11 ends it at once, whatever
                # the headers say) for the connection to be kept: an unread answer closes it,
                # and every HEAD would pay for a new connection.
                if not response.is_stream_consumed:  # (MockTransport answers come read)
                    async for _ in response.aiter_raw():
                        break
                body: bytes | None = b""
            else:
                try:
                    body = await read_body(response, request.limit if success else MAX_SMALL_BYTES)
                except BodyError as exc:
                    if exc.limit is not None:
                        where.hit(exc.limit)
                    raise where.error(BadResponseError, str(exc)) from None
            if body is None:
                if success:
                    where.hit("body_too_large")
                    raise where.error(
                        BadResponseError, f"response is larger than {request.limit} bytes"
                    )
                body = b""
            return Reply(response.status_code, response.headers, body, response.url)
        finally:
            await response.aclose()

    def _record(self, request: Outgoing, reply: Reply) -> None:
        """Keep the latest rate-limit figures; count served manifest GETs."""
        now = self._wall_clock()
        found = parse_rate_limit(reply.headers, now)
        if found is not None:
            self._rate_limit = found
            # An API that says "0 left until <reset>" will answer 429 until then.
            if found.remaining == 0 and found.reset_at is not None and found.reset_at > now:
                self._backoff.extend(found.reset_at - now)
        if request.counts_quota and 200 <= reply.status < 300:
            self._quota_requests += 1

    def _report(self, method: str, result: str, started: float) -> None:
        if self._observer is not None:
            seconds = max(0.0, self._clock() - started)
            self._observer.request_finished(self.name, method, result, seconds)


class SessionClient:
    """Base of the clients that own an :class:`HttpSession`: ``async with``, status, close."""

    name: str
    _session: HttpSession

    def where(self, repository: str | None = None, reference: str | None = None) -> Where:
        """What a request is about, counting caps hit in this client's ``status()``.

        For the modules of this package, which read answers on behalf of the client.
        """
        return Where(self.name, repository, reference, self._session.limits)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._session.aclose()

    def status(self) -> ClientStatus:
        """Latest rate-limit figures, back-off deadline (unix time), quota GETs and caps hit."""
        return self._session.status()
