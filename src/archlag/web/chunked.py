"""``/metrics`` sent in pieces, without a copy of the rendering per scrape."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

PIECE_BYTES = 256 << 10


class ChunkedBody(Response):
    """A response sent in pieces without joining the rendering: it is shared by every scrape, so
    no scrape copies it whole. Each piece is at most :data:`PIECE_BYTES`, and the server
    sends the next only once the socket took the last (it awaits the write buffer's drain), so
    a client that never reads holds a few pieces (the piece, the server's copy of it, what the
    socket did not take), not a copy of the whole rendering."""

    def __init__(self, chunks: Sequence[bytes], media_type: str) -> None:
        super().__init__(b"", media_type=media_type)
        self._chunks = [chunk for chunk in chunks if chunk]
        self._total = sum(len(chunk) for chunk in self._chunks)
        self.headers["content-length"] = str(self._total)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if scope.get("method") == "HEAD" or not self._chunks:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        sent = 0
        for piece in pieces(self._chunks):
            sent += len(piece)
            more = sent < self._total
            await send({"type": "http.response.body", "body": piece, "more_body": more})


def pieces(chunks: Sequence[bytes]) -> Iterator[bytes]:
    """``chunks`` regrouped into pieces of :data:`PIECE_BYTES` (the last one shorter): small
    chunks (a repository's lines of one family) are joined, large ones cut. One piece is copied
    at a time."""
    pending: list[memoryview] = []
    size = 0
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            part = view[: PIECE_BYTES - size]
            pending.append(part)
            size += len(part)
            view = view[len(part) :]
            if size == PIECE_BYTES:
                yield b"".join(pending)
                pending, size = [], 0
    if pending:
        yield b"".join(pending)
