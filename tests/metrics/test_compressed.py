"""``/metrics`` in gzip for scrapers that accept it: one gzip stream per scrape that decodes to
exactly the plain body, the big part compressed once per rendering."""

from __future__ import annotations

import gzip

import httpx
import pytest

from archlag.core.snapshots import LiveSnapshot, Snapshot
from archlag.metrics import Exposition
from archlag.metrics.compressed import accepts_gzip
from archlag.web.app import Readiness, create_app
from tests.metrics.test_exposition import build


def exposition() -> Exposition:
    _, repo = build()
    snapshot = Snapshot((repo.snapshot(60.0, 2700.0),))
    return Exposition(lambda: snapshot, live=lambda: LiveSnapshot(version="9.9.9"))


@pytest.mark.parametrize("openmetrics", [False, True])
def test_every_scrape_decodes_to_the_plain_body(openmetrics: bool) -> None:
    served = exposition()
    served.prime()
    plain = b"".join(served.body(openmetrics=openmetrics))
    for _ in range(3):  # the kept state is copied, never used up
        packed = b"".join(served.body(openmetrics=openmetrics, gzip=True))
        assert gzip.decompress(packed) == plain
    assert plain.endswith(b"# EOF\n") is openmetrics


def test_the_big_part_is_compressed_many_times_smaller() -> None:
    served = exposition()
    served.prime()
    plain = b"".join(served.body(openmetrics=False))
    packed = b"".join(served.body(openmetrics=False, gzip=True))
    assert len(packed) * 4 < len(plain)


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("deflate;q=1.0, GZIP;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=nonsense", False),
        ("identity", False),
        ("", False),
    ],
)
def test_accept_encoding(header: str, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted


@pytest.mark.anyio
async def test_the_endpoint_sends_gzip_only_when_asked() -> None:
    served = exposition()
    app = create_app(served, lambda: Snapshot(()), Readiness(0, 0), "1")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://archlag") as client:
        packed = await client.get("/metrics", headers={"Accept-Encoding": "gzip"})
        plain = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
    assert packed.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert packed.headers["vary"] == plain.headers["vary"] == "Accept-Encoding"
    assert int(packed.headers["content-length"]) * 4 < int(plain.headers["content-length"])
    body = packed.text  # httpx decodes it
    assert body.split("archlag_build_info")[0] == plain.text.split("archlag_build_info")[0]
