"""The Kubernetes API as discovery uses it: a list in pages, then a watch from its
resourceVersion, every answer bounded.

:meth:`KubeClient.list` reads ``limit``/``continue`` pages of at most
:data:`~archlag.discovery.limits.MAX_LIST_PAGE_BYTES`; :meth:`KubeClient.watch` streams
``watch=true&allowWatchBookmarks=true`` events, one JSON object per line, each line at most
:data:`~archlag.discovery.limits.MAX_WATCH_LINE_BYTES`. Bodies are asked for uncompressed and
decoded by the registry's bounded JSON reader. A 401 makes the token be read again (a rotated
service account token) and the request sent once more.

Errors (each message safe to show: a Status message, never a token):

- :class:`KubeError`: the base;
- :class:`KubeUnreachable`: no answer, or the stream was cut;
- :class:`KubeRefused`: 401 or 403 (``status``); a 403 names the verb and resource RBAC lacks;
- :class:`KubeGone`: 410, as an answer or a watch ``ERROR`` event: the resourceVersion is too
  old, list again;
- :class:`KubeAnswerError`: any other status, or an answer that is not the API's shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

import archlag
from archlag.discovery.kube_access import KubeAccess, KubeAccessError
from archlag.discovery.limits import (
    LIST_PAGE_SIZE,
    MAX_JSON_DEPTH,
    MAX_LIST_PAGE_BYTES,
    MAX_LIST_PAGES,
    MAX_WATCH_LINE_BYTES,
    WATCH_SECONDS,
)
from archlag.registry.bodies import BodyError, read_body
from archlag.registry.jsonbody import JsonBodyError, loads

_TIMEOUT = httpx.Timeout(30.0, read=WATCH_SECONDS + 30.0)  # a watch is quiet between events
_MAX_MESSAGE = 300


class KubeError(Exception):
    """The API server could not be used; see the module's docstring."""


class KubeUnreachable(KubeError):
    pass


class KubeRefused(KubeError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class KubeGone(KubeError):
    pass


class KubeAnswerError(KubeError):
    pass


@dataclass(frozen=True, slots=True)
class Listing:
    items: list[Any]
    resource_version: str


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED or BOOKMARK
    object: dict[str, Any]
    resource_version: str | None


class KubeClient:
    """One connection pool to one API server; use it as an async context manager."""

    def __init__(self, access: KubeAccess, *, transport: httpx.AsyncBaseTransport | None = None):
        self._access = access
        self._client = httpx.AsyncClient(
            base_url=access.server,
            verify=access.tls if access.tls is not None else True,
            transport=transport,
            timeout=_TIMEOUT,
            headers={
                "Accept": "application/json",
                "Accept-Encoding": "identity",
                "User-Agent": f"archlag/{archlag.__version__}",
            },
            trust_env=False,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._client.aclose()

    async def list(self, path: str) -> Listing:
        """Every item of ``path``, page by page.

        Raises:
            KubeError: see the module's docstring.
        """
        items: list[Any] = []
        params = {"limit": str(LIST_PAGE_SIZE)}
        for _ in range(MAX_LIST_PAGES):
            async with self._stream(path, params) as response:
                body = await _read(response, MAX_LIST_PAGE_BYTES, path)
            page = _json(body, path)
            metadata = page.get("metadata") if isinstance(page, dict) else None
            if not isinstance(metadata, dict) or not isinstance(page.get("items"), list):
                raise KubeAnswerError(f"{path}: the answer is not a list")
            items += page["items"]
            following = metadata.get("continue")
            if not following or not isinstance(following, str):
                version = metadata.get("resourceVersion")
                return Listing(items, version if isinstance(version, str) else "")
            params = {"limit": str(LIST_PAGE_SIZE), "continue": following}
        raise KubeAnswerError(f"{path}: the list has more than {MAX_LIST_PAGES} pages")

    @asynccontextmanager
    async def watch(
        self, path: str, resource_version: str
    ) -> AsyncIterator[AsyncIterator[WatchEvent]]:
        """A watch of ``path`` from ``resource_version``: entered once the server accepted it;
        its events come until the server ends the watch.

        Raises:
            KubeError: see the module's docstring (on entering, and while iterating).
        """
        params = {
            "watch": "true", "allowWatchBookmarks": "true", "resourceVersion": resource_version,
            "timeoutSeconds": str(WATCH_SECONDS),
        }  # fmt: skip
        async with self._stream(path, params) as response:
            if response.status_code != httpx.codes.OK:
                await _read(response, 64 << 10, path)  # raises with the Status message
            if response.headers.get("content-encoding", "identity").lower() != "identity":
                raise KubeAnswerError(f"{path}: the watch stream is compressed")
            yield _events(response, path)

    def _stream(self, path: str, params: dict[str, str]) -> _Exchange:
        return _Exchange(self._client, self._access, path, params)


class _Exchange:
    """One GET, sent again once after a 401 if the token can be read again."""

    def __init__(
        self, client: httpx.AsyncClient, access: KubeAccess, path: str, params: dict[str, str]
    ) -> None:
        self._client, self._access, self._path, self._params = client, access, path, params
        self._response: httpx.Response | None = None

    async def __aenter__(self) -> httpx.Response:
        response = await self._send()
        token = self._access.token
        if response.status_code == httpx.codes.UNAUTHORIZED and token and token.refused():
            await response.aclose()  # a rotated token file: read it again, and once more
            response = await self._send()
        self._response = response
        return response

    async def _send(self) -> httpx.Response:
        request = self._client.build_request("GET", self._path, params=self._params)
        try:
            token = self._access.token.current() if self._access.token else None
        except KubeAccessError as exc:
            raise KubeRefused(str(exc), 401) from None
        if token is not None:
            request.headers["Authorization"] = f"Bearer {token.reveal()}"
        try:
            return await self._client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise KubeUnreachable(
                f"cannot reach the API server ({self._access.where}): {type(exc).__name__}"
            ) from None

    async def __aexit__(self, *exc: object) -> None:
        if self._response is not None:
            await self._response.aclose()


async def _read(response: httpx.Response, limit: int, path: str) -> bytes:
    try:
        body = await read_body(response, limit)
    except BodyError as exc:
        raise KubeAnswerError(f"{path}: {exc}") from None
    except httpx.TransportError as exc:
        raise KubeUnreachable(f"the answer to {path} was cut: {type(exc).__name__}") from None
    if response.status_code != httpx.codes.OK:
        raise _status_error(response.status_code, body or b"", path)
    if body is None:
        raise KubeAnswerError(f"{path}: the answer is larger than {limit >> 20} MiB")
    return body


def _status_error(status: int, body: bytes, path: str) -> KubeError:
    message = ""
    try:
        decoded = loads(body[:65536], max_bytes=65536)
        if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
            message = ": " + _printable(decoded["message"])
    except JsonBodyError:
        pass
    text = f"{path}: HTTP {status}{message}"
    if status == httpx.codes.GONE:
        return KubeGone(text)
    if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
        return KubeRefused(text, status)
    return KubeAnswerError(text)


async def _events(response: httpx.Response, path: str) -> AsyncIterator[WatchEvent]:
    try:
        async for line in _lines(response.aiter_raw(), path):
            event = _event(_json(line, path), path)
            if event is not None:
                yield event
    except httpx.TransportError as exc:
        raise KubeUnreachable(f"the watch of {path} was cut: {type(exc).__name__}") from None


def _event(decoded: Any, path: str) -> WatchEvent | None:
    if not isinstance(decoded, dict) or not isinstance(decoded.get("object"), dict):
        raise KubeAnswerError(f"{path}: a watch event is not an object")
    kind, thing = decoded.get("type"), decoded["object"]
    if kind == "ERROR":
        code = thing.get("code")
        message = f"{path}: watch error {code}: {_printable(str(thing.get('message', '')))}"
        raise KubeGone(message) if code == httpx.codes.GONE else KubeAnswerError(message)
    if kind not in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK"):
        return None  # a type this client does not know: nothing to do with it
    metadata = thing.get("metadata")
    version = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
    return WatchEvent(kind, thing, version if isinstance(version, str) else None)


async def _lines(chunks: AsyncIterator[bytes], path: str) -> AsyncIterator[bytes]:
    """Lines of a stream, each at most MAX_WATCH_LINE_BYTES."""
    pending = bytearray()
    async for chunk in chunks:
        pending += chunk
        while (end := pending.find(b"\n")) >= 0:
            line = bytes(pending[:end])
            del pending[: end + 1]
            if line.strip():
                yield line
        if len(pending) > MAX_WATCH_LINE_BYTES:
            raise KubeAnswerError(f"{path}: a watch event is larger than {MAX_WATCH_LINE_BYTES}")
    if pending.strip():
        yield bytes(pending)


def _json(body: bytes, path: str) -> Any:
    try:
        return loads(body, max_bytes=max(MAX_LIST_PAGE_BYTES, len(body)), max_depth=MAX_JSON_DEPTH)
    except JsonBodyError as exc:
        raise KubeAnswerError(f"{path}: the answer {exc}") from None


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text[:_MAX_MESSAGE])
