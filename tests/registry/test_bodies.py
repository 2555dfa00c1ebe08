"""Bodies are read within their limit, however they are compressed (registry/bodies.py)."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import anyio
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archlag.registry import BadResponseError
from archlag.registry.bodies import ACCEPT_ENCODING, BodyError, read_body
from tests.support.mock_registry import mock_client

pytestmark = pytest.mark.anyio
MIB = 1 << 20


def gzip_stream(size: int) -> bytes:
    """``size`` zeros, gzipped, without holding them (a bomb: about 1,000 to 1)."""
    out = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MIB)
    parts = [out.compress(block) for _ in range(size // MIB)]
    return b"".join([*parts, out.flush()])


async def read(body: bytes, limit: int, *, encoding: str | None = None, **headers: str):
    if encoding is not None:
        headers["content-encoding"] = encoding
    response = httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))
    return await read_body(response, limit)


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        (None, lambda b: b),
        ("identity", lambda b: b),
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("GZIP ", gzip.compress),
    ],
)
async def test_a_body_is_decoded_as_its_encoding_says(encoding, compress) -> None:
    body = b'{"name": "demo/app", "tags": ["1.0"]}' * 1000
    assert await read(compress(body), len(body), encoding=encoding) == body
    assert await read(compress(body), len(body) - 1, encoding=encoding) is None, "one too many"


async def test_a_gzip_bomb_is_refused_holding_little_more_than_the_limit() -> None:
    bomb = gzip_stream(256 * MIB)
    assert len(bomb) < MIB
    tracemalloc.start()
    try:
        assert await read(bomb, 16 * MIB, encoding="gzip") is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * MIB, f"peak {peak / MIB:.0f} MiB for a 16 MiB limit"


@pytest.mark.parametrize(
    ("encoding", "body", "message"),
    [
        ("gzip, gzip", gzip.compress(gzip.compress(b"{}")), "more than once"),
        ("br", b"\x0b\x00\x80{}\x03", "unsupported Content-Encoding"),
        ("gzip", gzip.compress(b"x")[:10] + b"\xff" * 20, "corrupt"),
        ("gzip", gzip.compress(b"{}" * 100)[:-12], "ends before"),
        ("gzip", b"\x1f\x8b\x08\x00garbage", "ends before"),
    ],
    ids=["stacked", "unasked", "corrupt", "truncated", "header-only"],
)
async def test_bodies_archlag_cannot_decode_are_refused(encoding, body, message) -> None:
    with pytest.raises(BodyError, match=message):
        await read(body, MIB, encoding=encoding)


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    assert await read(b"{}", 10, **{"content-length": "11"}) is None


def test_no_body_raises_anything_but_body_error() -> None:
    @settings(max_examples=300, deadline=None)
    @given(
        st.one_of(st.binary(max_size=512), st.binary(max_size=512).map(gzip.compress)),
        st.sampled_from(["gzip", "deflate", "identity", ""]),
        st.integers(0, 4096),
    )
    def check(body: bytes, encoding: str, limit: int) -> None:
        try:
            decoded = anyio.run(lambda: read(body, limit, encoding=encoding))
        except BodyError:
            return
        assert decoded is None or len(decoded) <= limit

    check()


async def test_the_client_asks_only_for_encodings_it_decodes_and_refuses_others() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["accept-encoding"])
        content = gzip.compress(gzip.compress(b'{"name": "demo/app", "tags": []}'))
        return httpx.Response(200, content=content, headers={"content-encoding": "gzip, gzip"})

    client = mock_client(handler, "http://127.0.0.1:5000")
    async with client:
        with pytest.raises(BadResponseError, match="compressed more than once"):
            await client.list_tags("demo/app")
        assert client.status().limits_hit["body_too_large"] == 1
    assert seen == [ACCEPT_ENCODING]
