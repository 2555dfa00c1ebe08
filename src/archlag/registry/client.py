"""An HTTP client for one container registry (OCI Distribution API, read-only).

It speaks HTTP and returns typed results; it knows nothing of Prometheus or storage. Each
:class:`RegistryClient` owns one connection pool, limits concurrent requests, authenticates
(see :mod:`archlag.registry.auth`), retries transport errors, timeouts, 429 and 5xx with
exponential backoff, and raises the errors documented in :mod:`archlag.registry.errors`.
Every HTTP attempt is reported to an optional :class:`RequestObserver` with a bounded result.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

import anyio
import httpx

import archlag
from archlag.registry.auth import (
    Authenticator,
    SentAuthorization,
    parse_challenges,
    repository_scope,
)

# Credential types live in auth, which needs them; "X as X" re-exports them where users look.
from archlag.registry.auth import BasicCredentials as BasicCredentials  # noqa: PLC0414
from archlag.registry.auth import CredentialSource as CredentialSource  # noqa: PLC0414
from archlag.registry.auth import StaticCredentials as StaticCredentials  # noqa: PLC0414
from archlag.registry.content import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    digest_of,
    is_digest,
    manifest_media_type,
    reject_schema1,
    verify_digest,
)
from archlag.registry.errors import (
    BadResponseError,
    RegistryConnectionError,
    RegistryError,
    RegistryTimeoutError,
    Where,
    describe_error_body,
    error_for_status,
    result_for_status,
    retry_after_seconds,
    sanitize,
)

MANIFEST_ACCEPT: tuple[str, ...] = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
MAX_MANIFEST_BYTES = 4 << 20  # what distribution accepts on push, so nothing real is larger
MAX_TAGS_PAGE_BYTES = 16 << 20
MAX_TOKEN_BYTES = 1 << 20
MAX_SMALL_BYTES = 64 << 10  # /v2/ and error bodies (error bodies are truncated, not refused)
MAX_TAG_PAGES = 1000

_log = logging.getLogger(__name__)
_REPOSITORY = re.compile(
    r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_LINK = re.compile(r"<([^>]*)>([^<]*)")
_REL = re.compile(r"""(?:^|;)\s*rel\s*=\s*"?([^";]*)"?""", re.IGNORECASE)


class RequestObserver(Protocol):
    """Told about every HTTP attempt; ``result`` is one of :data:`errors.RESULTS`."""

    def request_finished(self, registry: str, method: str, result: str, seconds: float) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts per request, and the exponential backoff between them (seconds)."""

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
        wait = min(self.max_wait, self.initial_wait * 2**retry)
        # Jitter spreads clients apart; it is not security-relevant randomness.
        return float(wait * (1 - self.jitter * random.random()))  # noqa: S311


@dataclass(frozen=True, slots=True)
class ManifestHead:
    digest: str | None  # None if the registry omitted Docker-Content-Digest
    media_type: str  # "" if the registry omitted Content-Type


@dataclass(frozen=True, slots=True)
class Manifest:
    digest: str  # verified against the body
    media_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class _Reply:
    """A response whose body has been read (within a size limit)."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: httpx.URL


class RegistryClient:
    """Read-only client for one registry. Use as ``async with`` or call :meth:`aclose`."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        credentials: CredentialSource | None = None,
        concurrency: int = 4,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),  # frozen, so one shared default is harmless
        observer: RequestObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._base = httpx.URL(base_url.rstrip("/"))
        if self._base.scheme not in ("http", "https") or not self._base.host:
            raise ValueError(f"registry base URL must be http(s)://host[:port], got {base_url!r}")
        self._timeout = timeout
        self._retry = retry
        self._observer = observer
        self._sleep = sleep
        self._clock = clock
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._http = httpx.AsyncClient(
            transport=transport,
            follow_redirects=True,  # httpx drops Authorization on cross-origin redirects
            timeout=timeout,
            headers={"User-Agent": f"archlag/{archlag.__version__}"},
        )
        self._auth = Authenticator(
            registry_url=self._base,
            credentials=credentials,
            fetch_token=self._fetch_token,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"RegistryClient(name={self.name!r}, base_url={str(self._base)!r})"

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
        await self._http.aclose()

    async def ping(self) -> None:
        """Check that the registry speaks the API and that we may use it (``GET /v2/``)."""
        await self._request("GET", self._url("/v2/"), Where(self.name), None, MAX_SMALL_BYTES)

    async def list_tags(self, repository: str) -> list[str]:
        """Every tag of the repository, sorted and without duplicates, following ``Link`` pages."""
        _check_repository(repository)
        where = Where(self.name, repository)
        url = self._url(f"/v2/{repository}/tags/list").copy_merge_params({"n": "1000"})
        visited: set[httpx.URL] = set()
        tags: set[str] = set()
        for _ in range(MAX_TAG_PAGES):
            visited.add(url)
            reply = await self._request(
                "GET", url, where, repository_scope(repository), MAX_TAGS_PAGE_BYTES
            )
            tags.update(_parse_tags(reply.body, where))
            next_url = self._next_page(reply)
            if next_url is None or next_url in visited:
                return sorted(tags)
            url = next_url
        _log.warning(
            "tags_pages_truncated registry=%s repository=%s pages=%d",
            self.name,
            repository,
            MAX_TAG_PAGES,
        )
        return sorted(tags)

    async def head_manifest(self, repository: str, reference: str) -> ManifestHead:
        """Digest and media type of a manifest without downloading it (``HEAD``)."""
        where = self._manifest_where(repository, reference)
        reply = await self._request(
            "HEAD",
            self._url(f"/v2/{repository}/manifests/{reference}"),
            where,
            repository_scope(repository),
            MAX_SMALL_BYTES,
            accept=", ".join(MANIFEST_ACCEPT),
        )
        media_type = _content_type(reply.headers)
        reject_schema1(media_type, where)
        digest = reply.headers.get("docker-content-digest")
        if digest is not None and not is_digest(digest):
            raise where.error(BadResponseError, "Docker-Content-Digest is not a valid digest")
        if digest is None and is_digest(reference):
            digest = reference
        return ManifestHead(digest, media_type)

    async def get_manifest(self, repository: str, reference: str) -> Manifest:
        """A manifest's bytes, verified against its digest (reference or Docker-Content-Digest).

        Raises:
            BadResponseError: digest mismatch, schema1, over 4 MiB, or any RegistryError.
        """
        where = self._manifest_where(repository, reference)
        reply = await self._request(
            "GET",
            self._url(f"/v2/{repository}/manifests/{reference}"),
            where,
            repository_scope(repository),
            MAX_MANIFEST_BYTES,
            accept=", ".join(MANIFEST_ACCEPT),
        )
        media_type = manifest_media_type(_content_type(reply.headers), reply.body)
        reject_schema1(media_type, where)
        header = reply.headers.get("docker-content-digest")
        if header is not None and not is_digest(header):
            raise where.error(BadResponseError, "Docker-Content-Digest is not a valid digest")
        expected = [d for d in (reference if is_digest(reference) else None, header) if d]
        for digest in expected:
            verify_digest(digest, reply.body, where, "manifest")
        digest = expected[0] if expected else digest_of("sha256", reply.body)
        return Manifest(digest, media_type, reply.body)

    async def get_blob(self, repository: str, digest: str, *, max_bytes: int = 4 << 20) -> bytes:
        """A blob's bytes (at most ``max_bytes``), verified against ``digest``.

        Raises:
            ValueError: ``digest`` is not a sha256/sha512 digest.
        """
        _check_repository(repository)
        if not is_digest(digest):
            raise ValueError(f"not a verifiable digest: {digest!r}")
        where = Where(self.name, repository, digest)
        reply = await self._request(
            "GET",
            self._url(f"/v2/{repository}/blobs/{digest}"),
            where,
            repository_scope(repository),
            max_bytes,
        )
        verify_digest(digest, reply.body, where, "blob")
        return reply.body

    # -- request machinery ------------------------------------------------------------------

    def _url(self, path: str) -> httpx.URL:
        return httpx.URL(str(self._base) + path)

    def _manifest_where(self, repository: str, reference: str) -> Where:
        _check_repository(repository)
        if not (_TAG.match(reference) or is_digest(reference)):
            raise ValueError(f"not a tag or digest: {reference!r}")
        return Where(self.name, repository, reference)

    async def _request(
        self,
        method: str,
        url: httpx.URL,
        where: Where,
        scope: str | None,
        limit: int,
        *,
        accept: str | None = None,
    ) -> _Reply:
        """Send with authentication: answer one 401 challenge, then map failures to errors."""
        headers = {"Accept": accept} if accept else {}
        sent = await self._auth.up_front(scope, where)
        reply = await self._send(method, url, _with_auth(headers, sent), limit, where)
        if reply.status == 401:
            challenges = parse_challenges(reply.headers.get_list("www-authenticate"))
            retry_with = await self._auth.answer(challenges, scope, sent, where)
            if retry_with is not None:
                reply = await self._send(method, url, _with_auth(headers, retry_with), limit, where)
        if not 200 <= reply.status < 300:
            raise self._error(reply, where)
        return reply

    async def _fetch_token(self, url: httpx.URL, headers: Mapping[str, str], where: Where) -> bytes:
        reply = await self._send("GET", url, dict(headers), MAX_TOKEN_BYTES, where)
        if not 200 <= reply.status < 300:
            raise self._error(reply, where, action="token request")
        return reply.body

    async def _send(
        self, method: str, url: httpx.URL, headers: dict[str, str], limit: int, where: Where
    ) -> _Reply:
        """One request with retries of transport errors, timeouts, 429 and 5xx."""
        policy = self._retry
        retry = 0
        while True:
            last = retry + 1 >= policy.attempts
            try:
                reply = await self._attempt(method, url, headers, limit, where)
            except (RegistryTimeoutError, RegistryConnectionError):
                if last:
                    raise
                await self._sleep(policy.backoff(retry))
                retry += 1
                continue
            if reply.status != 429 and reply.status < 500:
                return reply
            retry_after = retry_after_seconds(reply.headers)
            if last or (retry_after is not None and retry_after > policy.max_wait):
                raise self._error(reply, where, retry_after=retry_after)
            await self._sleep(retry_after if retry_after is not None else policy.backoff(retry))
            retry += 1

    async def _attempt(
        self, method: str, url: httpx.URL, headers: dict[str, str], limit: int, where: Where
    ) -> _Reply:
        """One HTTP exchange, reported to the observer; httpx failures become RegistryErrors."""
        async with self._limiter:
            started = self._clock()
            try:
                with anyio.fail_after(self._timeout):
                    reply = await self._exchange(method, url, headers, limit, where)
            except RegistryError as error:
                self._report(method, error.result, started)
                raise
            except (httpx.TimeoutException, TimeoutError):
                self._report(method, RegistryTimeoutError.result, started)
                raise where.error(RegistryTimeoutError, f"{method} timed out") from None
            except httpx.TransportError as exc:
                self._report(method, RegistryConnectionError.result, started)
                detail = sanitize(f"{type(exc).__name__}: {exc}", self._auth.secrets())
                raise where.error(RegistryConnectionError, detail) from None
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                self._report(method, BadResponseError.result, started)
                detail = sanitize(f"{type(exc).__name__}: {exc}", self._auth.secrets())
                raise where.error(BadResponseError, detail) from None
            self._report(method, result_for_status(reply.status), started)
            return reply

    async def _exchange(
        self, method: str, url: httpx.URL, headers: dict[str, str], limit: int, where: Where
    ) -> _Reply:
        request = self._http.build_request(method, url, headers=headers)
        response = await self._http.send(request, stream=True)
        try:
            success = 200 <= response.status_code < 300
            if method == "HEAD":  # Content-Length describes the GET body, which never comes
                body: bytes | None = b""
            else:
                body = await _read_body(response, limit if success else MAX_SMALL_BYTES)
            if body is None:
                if success:
                    raise where.error(BadResponseError, f"response is larger than {limit} bytes")
                body = b""
            return _Reply(response.status_code, response.headers, body, response.url)
        finally:
            await response.aclose()

    def _report(self, method: str, result: str, started: float) -> None:
        if self._observer is not None:
            seconds = max(0.0, self._clock() - started)
            self._observer.request_finished(self.name, method, result, seconds)

    def _error(
        self,
        reply: _Reply,
        where: Where,
        *,
        action: str = "",
        retry_after: float | None = None,
    ) -> RegistryError:
        detail = sanitize(describe_error_body(reply.body), self._auth.secrets())
        return error_for_status(reply.status, detail, where, action=action, retry_after=retry_after)

    def _next_page(self, reply: _Reply) -> httpx.URL | None:
        """The same-origin ``rel="next"`` target of the ``Link`` header, if any."""
        for value in reply.headers.get_list("link"):
            for target, params in _LINK.findall(value):
                rel = _REL.search(params)
                if rel is None or "next" not in rel.group(1).lower().split():
                    continue
                try:
                    url = reply.url.join(target.strip())
                except httpx.InvalidURL:
                    return None
                same_origin = (url.scheme, url.host, url.port) == (
                    self._base.scheme,
                    self._base.host,
                    self._base.port,
                )
                return url if same_origin else None
        return None


def _with_auth(headers: dict[str, str], sent: SentAuthorization | None) -> dict[str, str]:
    if sent is None:
        return headers
    return {**headers, "Authorization": sent.header.reveal()}


async def _read_body(response: httpx.Response, limit: int) -> bytes | None:
    """The body, or None if it is longer than ``limit`` bytes."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _content_type(headers: httpx.Headers) -> str:
    return str(headers.get("content-type", "")).split(";", 1)[0].strip().lower()


def _check_repository(repository: str) -> None:
    if len(repository) > 255 or not _REPOSITORY.match(repository):
        raise ValueError(f"not a repository name: {repository!r}")


def _parse_tags(body: bytes, where: Where) -> list[str]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise where.error(BadResponseError, "tags list is not JSON") from None
    if not isinstance(document, dict):
        raise where.error(BadResponseError, "tags list is not a JSON object")
    tags = document.get("tags")
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise where.error(BadResponseError, "tags list has a 'tags' that is not a list of strings")
    return tags
