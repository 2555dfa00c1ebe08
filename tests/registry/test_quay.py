"""The Quay API client: a tag's revision history with Quay's own start and end times."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from archlag.registry import (
    BadResponseError,
    NotFoundError,
    QuayClient,
    QuayRevision,
    RetryPolicy,
    UnauthorizedError,
)
from archlag.secrets import Secret
from tests.support.mock_registry import quay_api

pytestmark = pytest.mark.anyio

D = {name: f"sha256:{name * 64}"[:71] for name in "abcdef"}
TOKEN = "planted-quay-oauth-token"


def row(
    digest: str | None, start: Any, end: Any = None, *, name: str = "v1.8", **extra: Any
) -> dict[str, Any]:
    """A tag history row shaped like Quay's (``end_ts``/``expiration`` only once replaced)."""
    found: dict[str, Any] = {
        "name": name,
        "reversion": False,
        "start_ts": start,
        "manifest_digest": digest,
        "is_manifest_list": True,
        "size": None,
        "last_modified": "Fri, 29 Nov 2026 16:50:43 -0000",
    }
    if end is not None:
        found |= {"end_ts": end, "expiration": "Sat, 30 Nov 2026 16:50:43 -0000"}
    return found | extra


def history(rows: list[Any], *, page: int = 1, more: bool = False) -> httpx.Response:
    return httpx.Response(200, json={"tags": rows, "page": page, "has_additional": more})


class Quay:
    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)

    def client(self, **kwargs: Any) -> QuayClient:
        return quay_api(self, retry=RetryPolicy(attempts=1), **kwargs)


async def test_history_pages_newest_first_with_start_and_end_times() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.params["page"] == "1":
            return history(
                [row(D["c"], 1_790_000_300), row(D["b"], 1_790_000_200, 1_790_000_300)], more=True
            )
        return history(
            [
                row(D["a"], 1_790_000_100, 1_790_000_200),
                row(None, 1_700_000_000, 1_790_000_100),  # legacy image-only row: skipped
                row(D["d"], 1_790_000_150, name="v1.8-rc"),  # not this tag: skipped
                row(D["b"], 1_790_000_200, 1_790_000_300),  # repeated across pages: once
            ],
            page=2,
        )

    quay = Quay(respond)
    async with quay.client() as client:
        revisions = await client.tag_history("prometheus/node-exporter", "v1.8")
    assert revisions == [
        QuayRevision(D["c"], 1_790_000_300.0, None),
        QuayRevision(D["b"], 1_790_000_200.0, 1_790_000_300.0),
        QuayRevision(D["a"], 1_790_000_100.0, 1_790_000_200.0),
    ]
    first = quay.requests[0]
    assert first.url.host == "quay.io"
    assert first.url.path == "/api/v1/repository/prometheus/node-exporter/tag/"
    assert dict(first.url.params) == {
        "specificTag": "v1.8",
        "onlyActiveTags": "false",
        "limit": "100",
        "page": "1",
    }
    assert "authorization" not in first.headers
    assert [r.url.params["page"] for r in quay.requests] == ["1", "2"]


async def test_history_is_bounded_and_a_token_is_sent_as_bearer() -> None:
    quay = Quay(lambda request: history([row(D["a"], 1)], more=True))
    async with quay.client(token=Secret(TOKEN), base_url="https://quay.example") as client:
        await client.tag_history("team/app", "v1.8", max_pages=3)
    assert len(quay.requests) == 3
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in quay.requests)
    assert quay.requests[0].url.host == "quay.example"


@pytest.mark.parametrize(
    ("response", "error"),
    [
        pytest.param(httpx.Response(404, json={"detail": "Not Found"}), NotFoundError, id="404"),
        pytest.param(
            httpx.Response(401, json={"error": "Unauthorized"}), UnauthorizedError, id="401"
        ),
        pytest.param(httpx.Response(200, content=b"<html>"), BadResponseError, id="not-json"),
        pytest.param(httpx.Response(200, json={"page": 1}), BadResponseError, id="no-tags"),
        pytest.param(history(["v1.8"]), BadResponseError, id="row-not-object"),
        pytest.param(history([row(D["a"], None)]), BadResponseError, id="no-start"),
        pytest.param(history([row(D["a"], "1790000000")]), BadResponseError, id="start-text"),
        pytest.param(history([row(D["a"], True)]), BadResponseError, id="start-bool"),
        pytest.param(history([row(D["a"], -5)]), BadResponseError, id="start-negative"),
        pytest.param(history([row(D["a"], 1, "later")]), BadResponseError, id="end-text"),
        pytest.param(history([row("md5:abc", 1)]), BadResponseError, id="digest"),
        pytest.param(history([row(7, 1)]), BadResponseError, id="digest-number"),
    ],
)
async def test_failures_and_malformed_history(
    response: httpx.Response, error: type[Exception]
) -> None:
    quay = Quay(lambda request: response)
    async with quay.client() as client:
        with pytest.raises(error):
            await client.tag_history("team/app", "v1.8")


@pytest.mark.parametrize(
    ("repository", "tag_name"), [("app", "v1"), ("a/b/c", "v1"), ("team/app", "../x")]
)
async def test_invalid_names_are_refused_before_any_request(repository: str, tag_name: str) -> None:
    quay = Quay(lambda request: history([]))
    async with quay.client() as client:
        with pytest.raises(ValueError, match=r"not a|namespace/name"):
            await client.tag_history(repository, tag_name)
    assert quay.requests == []


async def test_token_never_shows_in_errors() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        body = {"errors": [{"code": "DENIED", "message": request.headers["authorization"]}]}
        return httpx.Response(403, content=json.dumps(body).encode())

    quay = Quay(respond)
    client = quay.client(token=Secret(TOKEN))
    async with client:
        with pytest.raises(UnauthorizedError) as info:
            await client.tag_history("team/app", "v1.8")
    for text in (str(info.value), repr(info.value), repr(client)):
        assert TOKEN not in text
