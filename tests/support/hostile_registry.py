"""A hostile container registry on 127.0.0.1, speaking raw HTTP/1.1, for the reliability suite.

A registry is someone else's server: a broken proxy, a CDN or a malicious host can answer
anything. :class:`HostileRegistry` is a small asyncio server, on its own event loop in a
background thread, that writes raw bytes to its sockets, so it can break HTTP on purpose: bad
status lines, lying ``Content-Length``, endless or trickled bodies, resets mid-body, headers
that are huge or malformed, compression bombs, redirect loops.

By default it is a well-behaved read-only registry: :class:`Repository` holds tags whose
content is an OCI index (platforms named in the index, so no child needs fetching) or a single
image manifest with its config blob, and answers ``GET /v2/``, tag listings, manifest ``HEAD``
and ``GET`` and blob ``GET`` as distribution does. Attacks replace answers:

- per repository (one server hosts many): :meth:`Repository.on_listing` replaces the tag
  listing, :meth:`Repository.attack` the answers about one tag (by tag or by its digest);
- per server instance (registry-wide: authentication, 429s, redirects): a *front*, an
  :class:`Front` that sees every request first and answers it or lets it through.

Handlers are built from the primitives below (:func:`answer`, :func:`raw`, :func:`endless`,
:func:`trickle`, :func:`hang`, :func:`reset`, ...). Every answer is bounded: it stops after
:data:`MAX_BYTES` or :data:`MAX_SECONDS`, whichever comes first, and as soon as the client hangs
up; every request is recorded (:meth:`HostileRegistry.requests`) with what was sent back
(:class:`Served`), so a test can tell what archlag asked for, which headers it sent where, and
when it gave up reading.

Fronts for registry-wide attacks: :class:`BearerAuth` (token auth whose realm, token server or
tokens can be broken until healed), :class:`TokenServer` (a token realm on another origin),
:class:`BasicAuth` (Basic auth that can echo what it was sent), :class:`RedirectAll` (sends
every repository request to another origin), :class:`Throttle` (429s), :class:`AddHeaders`
(garbage on every answer) and :class:`Failing` (one handler for everything, until healed).

The catalog of attacks replayed with these, and what archlag must do against each, is in the
docstring of ``tests/test_reliability.py``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import socket
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

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


# -- handlers: what an answer does --------------------------------------------------------------


def answer(status: int, body: bytes = b"", headers: Iterable[tuple[str, str]] = ()) -> Handler:
    """A well-framed answer."""
    kept = list(headers)

    async def handler(request: Request, conn: Connection) -> None:
        await conn.respond(status, body, kept)

    return handler


def json_answer(status: int, document: object, headers: Iterable[tuple[str, str]] = ()) -> Handler:
    return answer(
        status, json.dumps(document).encode(), [("Content-Type", "application/json"), *headers]
    )


def raw(data: bytes) -> Handler:
    """Exactly ``data`` on the socket (a whole answer, or garbage), then close."""

    async def handler(request: Request, conn: Connection) -> None:
        conn.keep_alive = False
        await conn.write(data)

    return handler


def declared_length(length: int, content_type: str = "application/json") -> Handler:
    """Headers that promise ``length`` bytes, then nothing until the client hangs up."""

    async def handler(request: Request, conn: Connection) -> None:
        head = status_head(200, [("Content-Type", content_type), ("Content-Length", str(length))])
        if await conn.write(head + b"\r\n"):
            await conn.linger()

    return handler


def lying_length(declared: int, body: bytes, content_type: str = "application/json") -> Handler:
    """``Content-Length: declared`` with ``body`` (shorter or longer), then close."""

    async def handler(request: Request, conn: Connection) -> None:
        conn.keep_alive = False
        await conn.respond(200, body, [("Content-Type", content_type)], length=declared)

    return handler


def endless(
    unit: bytes = b'"a",',
    *,
    chunked: bool = True,
    status: int = 200,
    headers: Iterable[tuple[str, str]] = (("Content-Type", "application/json"),),
    start: bytes = b"",
) -> Handler:
    """A body that never ends (until the bounds): ``start`` then ``unit`` repeated."""
    piece = (unit * (PIECE // len(unit) + 1))[:PIECE]
    framing = [("Transfer-Encoding", "chunked")] if chunked else [("Connection", "close")]
    head = status_head(status, [*headers, *framing]) + b"\r\n"

    def frame(data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data

    async def handler(request: Request, conn: Connection) -> None:
        conn.keep_alive = False
        if not await conn.write(head + (frame(start) if start else b"")):
            return
        framed = frame(piece)
        while await conn.write(framed):
            pass

    return handler


def trickle(data: bytes, every: float = 0.5) -> Handler:
    """``data`` one byte at a time, one every ``every`` seconds (slowloris)."""

    async def handler(request: Request, conn: Connection) -> None:
        conn.keep_alive = False
        for index in range(len(data)):
            if not await conn.write(data[index : index + 1]):
                return
            await asyncio.sleep(every)

    return handler


def hang() -> Handler:
    """Accept the request, answer nothing until the client gives up."""

    async def handler(request: Request, conn: Connection) -> None:
        await conn.linger()

    return handler


def reset(after: bytes = b"") -> Handler:
    """Send ``after`` (a status line and half a body, say), then reset the connection."""

    async def handler(request: Request, conn: Connection) -> None:
        if after:
            await conn.write(after)
            await asyncio.sleep(0.05)  # let the bytes leave before the RST
        conn.reset()

    return handler


def redirect(location: str | Callable[[Request], str], status: int = 307) -> Handler:
    """A redirect; ``location`` may depend on the request (a loop, another origin)."""

    async def handler(request: Request, conn: Connection) -> None:
        target = location(request) if callable(location) else location
        await conn.respond(status, b"", [("Location", target)])

    return handler


def deep_json(depth: int, status: int = 200) -> Handler:
    """A JSON body nested ``depth`` levels deep (``[[[...]]]``)."""
    return answer(status, b"[" * depth + b"]" * depth, [("Content-Type", "application/json")])


_BOMBS: dict[tuple[int, int], bytes] = {}


def bomb_bytes(size: int, layers: int) -> bytes:
    """``size`` zero bytes gzip-compressed ``layers`` times (cached: building it takes a while)."""
    key = (size, layers)
    if key not in _BOMBS:
        chunks: Iterable[bytes] = (b"\0" * (1 << 20) for _ in range(size >> 20))
        body = b""
        for _ in range(layers):
            compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
            body = b"".join([*(compressor.compress(c) for c in chunks), compressor.flush()])
            chunks = [body]
        _BOMBS[key] = body
    return _BOMBS[key]


def gzip_bomb(size: int, layers: int = 1) -> Handler:
    """A small body that decompresses to ``size`` bytes (``Content-Encoding: gzip[, gzip]``)."""

    async def handler(request: Request, conn: Connection) -> None:
        body = bomb_bytes(size, layers)
        encoding = ", ".join(["gzip"] * layers)
        headers = [("Content-Type", "application/json"), ("Content-Encoding", encoding)]
        await conn.respond(200, body, headers)

    return handler


def huge_headers(count: int, size: int, status: int = 200, name: str = "X-Filler") -> Handler:
    """``count`` header lines of ``size`` bytes each, then an empty JSON object."""
    headers = [(f"{name}-{i}" if name == "X-Filler" else name, "a" * size) for i in range(count)]
    return answer(status, b"{}", [("Content-Type", "application/json"), *headers])


def pages(per_page: int, link: Callable[[Request, int], str] | None = None) -> Handler:
    """A tag listing that never ends: each page has ``per_page`` fresh tags and a ``Link`` to
    the next one (same origin unless ``link`` says otherwise: it gets the request and the next
    page's number)."""

    async def handler(request: Request, conn: Connection) -> None:
        page = int((request.param("last") or "p0").removeprefix("p").split("-")[0] or "0")
        name = request.path.removeprefix("/v2/").removesuffix("/tags/list")
        tags = [f"p{page}-{i}" for i in range(per_page)]
        following = page + 1
        target = (
            link(request, following)
            if link is not None
            else f"{request.path}?n=1000&last=p{following}-"
        )
        headers = [("Link", f'<{target}>; rel="next"')]
        await json_answer(200, {"name": name, "tags": tags}, headers)(request, conn)

    return handler


def echo_authorization(status: int = 403) -> Handler:
    """An error that repeats the ``Authorization`` it was sent: in its body, a ``Warning``
    header and a challenge realm, the places a client might print."""

    async def handler(request: Request, conn: Connection) -> None:
        sent = request.headers.get("authorization", "")
        said = f"denied: you sent {sent!r} for {request.path}"
        headers = [
            ("Content-Type", "application/json"),
            ("Warning", f'299 - "{said.replace(chr(34), chr(39))}"'),
            _challenge("Bearer", realm=f"http://127.0.0.1:1/token?echo={sent}", error="x"),
        ]
        await conn.respond(status, error_body("DENIED", said), headers)

    return handler


def echo_body(status: int = 400) -> Handler:
    """An error that repeats the request body (a token request's form) in its message."""

    async def handler(request: Request, conn: Connection) -> None:
        said = f"cannot use {request.body.decode('latin-1')!r}"
        await conn.respond(
            status, error_body("DENIED", said), [("Content-Type", "application/json")]
        )

    return handler


def each_time(*handlers: Handler) -> Handler:
    """The first handler for the first request, the second for the next... the last from then on."""
    served = 0

    async def handler(request: Request, conn: Connection) -> None:
        nonlocal served
        chosen = handlers[min(served, len(handlers) - 1)]
        served += 1
        await chosen(request, conn)

    return handler


# -- content ------------------------------------------------------------------------------------


def index_body(platforms: Iterable[str], seed: str = "") -> bytes:
    """An OCI index naming one image manifest per platform (children are never fetched)."""
    entries = []
    for platform in platforms:
        os, arch, *variant = platform.split("/")
        described: dict[str, str] = {"os": os, "architecture": arch}
        if variant:
            described["variant"] = variant[0]
        entries.append({
            "mediaType": OCI_MANIFEST,
            "digest": digest_of(f"{seed}/{platform}".encode()),
            "size": 500,
            "platform": described,
        })  # fmt: skip
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    return json.dumps(document, separators=(",", ":")).encode()


def image_body(config: bytes) -> bytes:
    """An OCI image manifest whose config blob is ``config``."""
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
        "layers": [],
    }
    return json.dumps(document, separators=(",", ":")).encode()


def config_body(platform: str, seed: str = "") -> bytes:
    os, arch, *variant = platform.split("/")
    document: dict[str, Any] = {"os": os, "architecture": arch, "rootfs": {"type": "layers"}}
    if seed:
        document["config"] = {"Labels": {"seed": seed}}
    if variant:
        document["variant"] = variant[0]
    return json.dumps(document).encode()


class Repository:
    """One repository's tags and content, and the attacks on it.

    Thread-safe enough for tests: the test thread changes it between polls, the server thread
    reads it (each change replaces whole values).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.tags: dict[str, str] = {}  # tag -> digest of its manifest
        self.manifests: dict[str, tuple[str, bytes]] = {}  # digest -> (media type, body)
        self.blobs: dict[str, bytes] = {}
        self.extra_names: list[str] = []  # listed, though no manifest answers for them
        self._listing: Handler | None = None
        self._attacks: dict[tuple[str, str], Handler] = {}  # (method, tag) -> handler

    def put(self, tag: str, media_type: str, body: bytes) -> str:
        """Point ``tag`` at a manifest with this body; returns its digest."""
        digest = digest_of(body)
        self.manifests = {**self.manifests, digest: (media_type, body)}
        self.tags = {**self.tags, tag: digest}
        return digest

    def publish(self, tag: str, platforms: Iterable[str] = GOOD_PLATFORMS, seed: str = "") -> str:
        """Tag an OCI index of ``platforms``."""
        return self.put(tag, OCI_INDEX, index_body(platforms, seed or f"{self.name}:{tag}"))

    def publish_image(self, tag: str, platform: str, seed: str = "") -> str:
        """Tag a single image manifest, its platform in its config blob."""
        config = config_body(platform, seed)
        self.blobs = {**self.blobs, digest_of(config): config}
        return self.put(tag, OCI_MANIFEST, image_body(config))

    def remove(self, tag: str) -> None:
        self.tags = {t: d for t, d in self.tags.items() if t != tag}

    def on_listing(self, handler: Handler | None) -> None:
        """Answer tag listings with ``handler`` (None: the normal listing again)."""
        self._listing = handler

    def attack(self, tag: str, handler: Handler, methods: Sequence[str] = ("GET", "HEAD")) -> None:
        """Answer requests for ``tag`` (or its digest) with ``handler``."""
        self._attacks = {**self._attacks, **{(m, tag): handler for m in methods}}

    def listed(self) -> list[str]:
        return sorted(self.tags) + self.extra_names

    async def serve_listing(self, request: Request, conn: Connection) -> None:
        if self._listing is not None:
            await self._listing(request, conn)
            return
        document = {"name": self.name, "tags": self.listed()}
        await json_answer(200, document)(request, conn)

    async def serve_manifest(self, request: Request, conn: Connection, reference: str) -> None:
        tag = reference if reference in self.tags else self._tag_of(reference)
        attack = self._attacks.get((request.method, tag)) if tag is not None else None
        if attack is not None:
            await attack(request, conn)
            return
        digest = self.tags.get(reference, reference)
        found = self.manifests.get(digest)
        if found is None:
            body = error_body("MANIFEST_UNKNOWN", "manifest unknown")
            await conn.respond(404, body, [("Content-Type", "application/json")])
            return
        media_type, body = found
        headers = [("Content-Type", media_type), ("Docker-Content-Digest", digest)]
        await conn.respond(200, body, headers)

    async def serve_blob(self, request: Request, conn: Connection, digest: str) -> None:
        blob = self.blobs.get(digest)
        attack = self._attacks.get((request.method, digest))
        if attack is not None:
            await attack(request, conn)
        elif blob is None:
            await conn.respond(404, error_body("BLOB_UNKNOWN", "blob unknown"))
        else:
            await conn.respond(200, blob, [("Content-Type", "application/octet-stream")])

    def _tag_of(self, digest: str) -> str | None:
        return next((t for t, d in self.tags.items() if d == digest), None)


# -- the server ---------------------------------------------------------------------------------


class HostileRegistry:
    """A registry on ``127.0.0.1:<free port>``, in a thread of its own; see the module docstring.

    ``front`` sees every request first (registry-wide attacks). ``repositories`` may be shared
    with another instance, which then serves the same content under another origin.
    """

    def __init__(
        self, *, front: Front | None = None, repositories: dict[str, Repository] | None = None
    ) -> None:
        self.front = front
        self.repositories = repositories if repositories is not None else {}
        self.port = 0
        self._recorded: deque[Served] = deque(maxlen=MAX_RECORDED)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, as used in image references."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def repository(self, name: str) -> Repository:
        """The repository ``name``, created empty if need be."""
        if name not in self.repositories:
            self.repositories[name] = Repository(name)
        return self.repositories[name]

    def served(self, path_contains: str = "", method: str | None = None) -> list[Served]:
        """Answers given so far (the newest :data:`MAX_RECORDED`), optionally filtered."""
        with self._lock:
            answers = list(self._recorded)
        return [
            s
            for s in answers
            if path_contains in s.request.path and method in (None, s.request.method)
        ]

    def requests(self, path_contains: str = "", method: str | None = None) -> list[Request]:
        return [s.request for s in self.served(path_contains, method)]

    def start(self) -> Self:
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="hostile-registry", daemon=True
        )
        self._thread.start()
        if not ready.wait(10) or not self.port:
            raise RuntimeError("the hostile registry did not start")
        return self

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=15)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        self._server = loop.run_until_complete(
            asyncio.start_server(self._accept, "127.0.0.1", 0, limit=MAX_REQUEST_HEAD)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if self.front is not None:
            self.front.url = self.url
        ready.set()
        loop.run_forever()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = Connection(reader, writer)
        try:
            while conn.keep_alive:
                request = await self._read(reader)
                if request is None:
                    break
                served = Served(request)
                with self._lock:
                    self._recorded.append(served)
                conn.begin(served)
                started = time.monotonic()
                await self._route(request, conn)
                served.seconds = time.monotonic() - started
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            pass  # the client went away or sent something unreadable: drop the connection
        except asyncio.CancelledError:
            pass  # the server is closing: this connection ends with it
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError as exc:
            raise ValueError("request head too large") from exc
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        length = min(int(headers.get("content-length", "0") or "0"), MAX_REQUEST_BODY)
        async with asyncio.timeout(READ_TIMEOUT):
            body = await reader.readexactly(length) if length else b""
        parts = urlsplit(target)
        return Request(method, parts.path, parse_qs(parts.query), headers, body, self.port)

    async def _route(self, request: Request, conn: Connection) -> None:
        if self.front is not None and await self.front.handle(request, conn):
            return
        path = request.path
        if path in ("/v2/", "/v2"):
            await json_answer(200, {})(request, conn)
            return
        for kind in ("/tags/list", "/manifests/", "/blobs/"):
            name, found, rest = path.removeprefix("/v2/").partition(kind)
            if found and path.startswith("/v2/") and name in self.repositories:
                repository = self.repositories[name]
                if kind == "/tags/list":
                    await repository.serve_listing(request, conn)
                elif kind == "/manifests/":
                    await repository.serve_manifest(request, conn, rest)
                else:
                    await repository.serve_blob(request, conn, rest)
                return
        body = error_body("NAME_UNKNOWN", "repository name not known to registry")
        await conn.respond(404, body, [("Content-Type", "application/json")])


# -- fronts: registry-wide behaviour -------------------------------------------------------------


def _challenge(scheme: str, **params: str) -> tuple[str, str]:
    joined = ",".join(f'{name}="{value}"' for name, value in params.items())
    return "WWW-Authenticate", f"{scheme} {joined}"


class TokenServer(Front):
    """A token realm at ``/token``: issues a fresh token per request (``tokens`` holds them).

    ``broken``, until healed, answers token requests instead (an endless body, garbage...).
    """

    def __init__(self, broken: Handler | None = None, tokens: set[str] | None = None) -> None:
        self.broken = broken
        self.tokens = tokens if tokens is not None else set()

    async def handle(self, request: Request, conn: Connection) -> bool:
        if request.path != "/token":
            return False
        if self.broken is not None and not self.healed:
            await self.broken(request, conn)
            return True
        token = f"issued-{len(self.tokens)}-{hashlib.sha256(request.path.encode()).hexdigest()}"
        self.tokens.add(token)
        await json_answer(200, {"token": token, "expires_in": 300})(request, conn)
        return True


class BearerAuth(Front):
    """Token auth: a request without a token that ``tokens`` holds gets a Bearer challenge.

    The realm is ``bad_realm`` until healed, then ``realm`` (default: this registry's own
    ``/token``, served by ``server``, a :class:`TokenServer` whose tokens are accepted).
    """

    def __init__(
        self,
        bad_realm: str | None = None,
        *,
        server: TokenServer | None = None,
        realm: Callable[[], str] | None = None,
    ) -> None:
        self.bad_realm = bad_realm
        self.server = server or TokenServer()
        self._realm = realm

    def heal(self) -> None:
        super().heal()
        self.server.heal()

    def arm(self) -> None:
        """Misbehave again, and revoke every token issued so far: archlag must ask anew."""
        super().arm()
        self.server.arm()
        self.server.tokens.clear()

    async def handle(self, request: Request, conn: Connection) -> bool:
        if self._realm is None and await self.server.handle(request, conn):
            return True
        authorization = request.headers.get("authorization", "")
        if authorization.removeprefix("Bearer ") in self.server.tokens:
            return False
        good = self._realm() if self._realm is not None else f"{self.url}/token"
        realm = self.bad_realm if self.bad_realm is not None and not self.healed else good
        header = _challenge("Bearer", realm=realm, service="hostile")
        body = error_body("UNAUTHORIZED", "authentication required")
        await conn.respond(401, body, [("Content-Type", "application/json"), header])
        return True


class BasicAuth(Front):
    """Basic auth for ``username``/``password``.

    Refused requests get ``401`` with a Basic challenge; with ``echo`` its body and realm repeat
    the ``Authorization`` that was sent. With ``deny``, accepted requests for the repositories
    whose name starts with it get :func:`echo_authorization`'s ``403`` instead.
    """

    def __init__(
        self, username: str, password: str, *, echo: bool = False, deny: str | None = None
    ) -> None:
        self.expected = "Basic " + _basic(username, password)
        self.echo = echo
        self.deny = deny

    async def handle(self, request: Request, conn: Connection) -> bool:
        sent = request.headers.get("authorization", "")
        if sent != self.expected:
            said = f"you sent {sent!r}" if self.echo else "authentication required"
            realm = f"basic {said}" if self.echo else "hostile"
            headers = [("Content-Type", "application/json"), _challenge("Basic", realm=realm)]
            await conn.respond(401, error_body("UNAUTHORIZED", said), headers)
            return True
        if self.deny is not None and request.path.startswith(f"/v2/{self.deny}"):
            await echo_authorization()(request, conn)
            return True
        return False


def _basic(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


class RedirectAll(Front):
    """Every repository request is redirected to the same path on ``target()``'s origin.

    With ``basic`` (user, password) a request must first carry those credentials, so that the
    redirect follows a request that had them.
    """

    def __init__(self, target: Callable[[], str], basic: tuple[str, str] | None = None) -> None:
        self._target = target
        self._auth = BasicAuth(*basic) if basic else None

    async def handle(self, request: Request, conn: Connection) -> bool:
        if self._auth is not None and await self._auth.handle(request, conn):
            return True
        if not request.path.startswith("/v2/") or request.path == "/v2/":
            return False
        await redirect(self._target() + request.path)(request, conn)
        return True


class Throttle(Front):
    """``429`` with ``headers`` for the first ``times`` requests (or until healed).

    ``throttled`` records when each 429 was sent (unix time).
    """

    def __init__(self, headers: Sequence[tuple[str, str]], times: int = 1 << 62) -> None:
        self.headers = list(headers)
        self.times = times
        self.throttled: list[float] = []

    async def handle(self, request: Request, conn: Connection) -> bool:
        if self.healed or len(self.throttled) >= self.times:
            return False
        self.throttled.append(time.time())
        body = error_body("TOOMANYREQUESTS", "slow down")
        await conn.respond(429, body, [("Content-Type", "application/json"), *self.headers])
        return True


class AddHeaders(Front):
    """Every answer carries ``headers`` too (garbage rate-limit headers, say)."""

    def __init__(self, headers: Sequence[tuple[str, str]]) -> None:
        self.headers = list(headers)

    async def handle(self, request: Request, conn: Connection) -> bool:
        conn.extra_headers = [*self.headers]
        return False


class Failing(Front):
    """Every request is answered by ``handler`` until healed."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def handle(self, request: Request, conn: Connection) -> bool:
        if self.healed:
            return False
        await self.handler(request, conn)
        return True
