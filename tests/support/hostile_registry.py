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
- per server instance (registry-wide: authentication, 429s, redirects): a *front*, a
  :class:`~tests.support.hostile_http.Front` that sees every request first and answers it or
  lets it through.

The wire level (requests, the bounded connection, status lines) is in
:mod:`tests.support.hostile_http`. Handlers are built from the primitives of
:mod:`tests.support.hostile_answers` (``answer``, ``raw``, ``endless``, ``trickle``, ``hang``,
``reset``, ...). Every answer is bounded: it stops after
:data:`MAX_BYTES` or :data:`MAX_SECONDS`, whichever comes first, and as soon as the client hangs
up; every request is recorded (:meth:`HostileRegistry.requests`) with what was sent back
(:class:`Served`), so a test can tell what archlag asked for, which headers it sent where, and
when it gave up reading.

Fronts for registry-wide attacks, in :mod:`tests.support.hostile_fronts`: ``BearerAuth`` (token
auth whose realm, token server or tokens can be broken until healed), ``TokenServer`` (a token
realm on another origin), ``BasicAuth`` (Basic auth that can echo what it was sent),
``RedirectAll`` (sends every repository request to another origin), ``Throttle`` (429s),
``AddHeaders`` (garbage on every answer) and ``Failing`` (one handler for everything, until
healed).

The catalogs of attacks replayed with these, and what archlag must do against each, are in
:mod:`tests.support.reliability`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from tests.support.hostile_answers import json_answer
from tests.support.hostile_http import (
    GOOD_PLATFORMS,
    MAX_RECORDED,
    MAX_REQUEST_BODY,
    MAX_REQUEST_HEAD,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    READ_TIMEOUT,
    Connection,
    Front,
    Handler,
    Request,
    Served,
    digest_of,
    error_body,
)

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
