"""Reading a registry's response body within a byte limit, decompressed with a bounded output.

httpx decodes ``Content-Encoding`` itself, a whole network chunk at a time and without an output
bound: a 64 KiB chunk of a gzip bomb becomes 64 MiB before any size limit can see it, and every
layer of ``gzip, gzip`` is inflated at once. archlag therefore asks only for what it can decode
itself (:data:`ACCEPT_ENCODING`), reads the raw bytes, and inflates them with zlib in steps whose
output never exceeds what is left of the limit: a body costs at most its limit, however it is
compressed.

A body compressed more than once, with an encoding archlag did not ask for, or whose compressed
data is corrupt or cut short is refused (:class:`BodyError`); one longer than the limit,
compressed or not, reads as None.
"""

from __future__ import annotations

import re
import zlib

import httpx

ACCEPT_ENCODING = "gzip, deflate"
_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class BodyError(Exception):
    """The body cannot be decoded: stacked or unknown encodings, corrupt or truncated data;
    ``limit`` is the key of :data:`~archlag.core.outcomes.LIMITS` to count it under, if any."""

    def __init__(self, message: str, limit: str | None = None) -> None:
        super().__init__(message)
        self.limit = limit


def encodings(response: httpx.Response) -> list[str]:
    """The ``Content-Encoding`` layers of a response, ``identity`` left out, lower case."""
    return [
        e.strip().lower()
        for value in response.headers.get_list("content-encoding")
        for e in value.split(",")
        if e.strip() and e.strip().lower() != "identity"
    ]


async def read_body(response: httpx.Response, limit: int) -> bytes | None:
    """The decoded body, or None if it is longer than ``limit`` bytes.

    Raises:
        BodyError: more than one encoding, one archlag does not decode, corrupt or truncated
            compressed data.
    """
    layers = encodings(response)
    if len(layers) > 1:
        raise BodyError("response is compressed more than once", "body_too_large")
    if layers and layers[0] not in _WBITS:
        raise BodyError(
            f"response has an unsupported Content-Encoding ({layers[0][:40]!r})", "bad_header"
        )
    if response.is_stream_consumed:  # built in memory (httpx.MockTransport): decoded already
        return response.content if len(response.content) <= limit else None
    declared = response.headers.get("content-length", "").strip()
    if not layers and _CONTENT_LENGTH.fullmatch(declared) and int(declared) > limit:
        return None
    inflate = zlib.decompressobj(_WBITS[layers[0]]) if layers else None
    chunks: list[bytes] = []
    size = 0

    def fits(pieces: list[bytes]) -> bool:
        nonlocal size
        chunks.extend(pieces)
        size += sum(len(piece) for piece in pieces)
        return size <= limit

    async for raw in response.aiter_raw():
        if not fits([raw] if inflate is None else _inflate(inflate, raw, limit - size + 1)):
            return None
    if inflate is not None and not fits(_inflate(inflate, b"", limit - size + 1, final=True)):
        return None
    return b"".join(chunks)


def _inflate(
    inflate: zlib._Decompress, data: bytes, room: int, *, final: bool = False
) -> list[bytes]:
    """What ``data`` inflates to, at most ``room`` bytes (``room`` is one more than what is left
    of the limit: reaching it is enough to refuse the body). ``final``: flush what zlib holds.

    Raises:
        BodyError: the compressed data is corrupt, or (``final``) ends early.
    """
    out: list[bytes] = []
    try:
        while room > 0:
            piece = inflate.decompress(data, room)  # input it could not inflate stays in the tail
            out.append(piece)
            room -= len(piece)
            data = inflate.unconsumed_tail
            if not data:
                break
        if final and room > 0:
            out.append(inflate.flush(room))
            if not inflate.eof:
                raise BodyError("compressed body ends before its end of stream")
    except zlib.error as exc:
        raise BodyError(f"compressed body is corrupt ({exc})") from None
    return out
