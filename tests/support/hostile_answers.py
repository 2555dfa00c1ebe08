"""Handlers of the hostile registry: what one answer does (a status and a body, raw bytes, an
endless, trickled or reset body, a bomb, pages...). Each is bounded by the connection's caps."""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Callable, Iterable

from tests.support.hostile_http import (
    PIECE,
    Connection,
    Handler,
    Request,
    challenge,
    error_body,
    status_head,
)

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
            challenge("Bearer", realm=f"http://127.0.0.1:1/token?echo={sent}", error="x"),
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
