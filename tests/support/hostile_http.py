"""The wire level of the hostile registry (:mod:`tests.support.hostile_registry`): requests as
read, a connection that writes raw bytes within bounds, fronts, status lines and error bodies."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

MAX_BYTES = 200 << 20  # no answer sends more than this
MAX_SECONDS = 60.0  # ... nor lasts longer than this
READ_TIMEOUT = 30.0  # a request's head must arrive within this
MAX_REQUEST_HEAD = 64 << 10
MAX_REQUEST_BODY = 1 << 20
MAX_RECORDED = 100_000  # requests kept for the test to look at, the newest
PIECE = 64 << 10  # what endless answers write at a time

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"
GOOD_PLATFORMS = ("linux/amd64", "linux/arm64")

_REASONS = {
    200: "OK", 202: "Accepted", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
    307: "Temporary Redirect", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable",
}  # fmt: skip


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the server read it; header names are lower-case."""

    method: str
    path: str
    query: Mapping[str, Sequence[str]]
    headers: Mapping[str, str]
    body: bytes
    port: int  # the server's port: which registry was asked
    at: float = field(default_factory=time.time)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(slots=True)
class Served:
    """What one answer cost: bytes written, and whether the client hung up before the end."""

    request: Request
    sent: int = 0
    client_gone: bool = False
    seconds: float = 0.0


class Connection:
    """One client connection as a handler writes to it, within the bounds of one answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.keep_alive = True
        self.extra_headers: list[tuple[str, str]] = []  # added by a front to every answer
        self.request: Request | None = None
        self._served: Served | None = None
        self._deadline = 0.0

    def begin(self, served: Served) -> None:
        self.request = served.request
        self._served = served
        self._deadline = time.monotonic() + MAX_SECONDS
        self.extra_headers = []

    @property
    def left(self) -> float:
        return max(self._deadline - time.monotonic(), 0.0)

    @property
    def served(self) -> Served:
        assert self._served is not None
        return self._served

    async def write(self, data: bytes) -> bool:
        """Send ``data``; False once the client has gone or a bound is reached (nothing sent)."""
        served = self.served
        if served.client_gone or served.sent + len(data) > MAX_BYTES or self.left <= 0:
            self.keep_alive = False
            return False
        try:
            if self._writer.is_closing():
                raise ConnectionResetError
            self._writer.write(data)
            await asyncio.wait_for(self._writer.drain(), self.left)
        except (ConnectionError, TimeoutError):
            served.client_gone = True
            self.keep_alive = False
            return False
        served.sent += len(data)
        return True

    async def respond(
        self,
        status: int,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
        *,
        length: int | None = None,
    ) -> bool:
        """A well-framed answer (no body for ``HEAD``); ``length`` overrides Content-Length."""
        declared = len(body) if length is None else length
        head = status_head(status, [("Content-Length", str(declared)), *headers])
        head += _header_lines(self.extra_headers) + b"\r\n"
        assert self.request is not None
        return await self.write(head if self.request.method == "HEAD" else head + body)

    async def linger(self, seconds: float = MAX_SECONDS) -> None:
        """Send nothing until the client hangs up (or ``seconds``, within the bounds)."""
        self.keep_alive = False
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(min(seconds, self.left)):
                while await self._reader.read(PIECE):
                    pass
                self.served.client_gone = True

    def reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0): the client sees 'connection reset'."""
        self.keep_alive = False
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._writer.transport.abort()


Handler = Callable[[Request, Connection], Awaitable[None]]


class Front:
    """Sees every request of a registry first: :meth:`handle` answers it (True) or not."""

    healed = False  # set by a test: the registry behaves again
    url = ""  # the registry's own base URL, set when it starts

    async def handle(self, request: Request, conn: Connection) -> bool:
        return False

    def heal(self) -> None:
        self.healed = True

    def arm(self) -> None:
        """Misbehave (again), for an attack that starts once archlag has read the registry."""
        self.healed = False


def status_head(status: int, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """A status line and header lines, without the blank line that ends them."""
    line = f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n".encode()
    return line + _header_lines(headers)


def _header_lines(headers: Iterable[tuple[str, str]]) -> bytes:
    return b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in headers)


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message}]}).encode()


def challenge(scheme: str, **params: str) -> tuple[str, str]:
    joined = ",".join(f'{name}="{value}"' for name, value in params.items())
    return "WWW-Authenticate", f"{scheme} {joined}"
