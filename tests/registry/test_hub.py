"""The Docker Hub API client: tag pages newest first, per-platform push times, login, limits."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from archlag.core.platforms import Platform
from archlag.registry import (
    BadResponseError,
    BasicCredentials,
    HubClient,
    HubImage,
    HubTag,
    NotFoundError,
    RateLimitedError,
    RateLimitStatus,
    RetryPolicy,
    UnauthorizedError,
)
from archlag.secrets import Secret
from tests.support.mock_registry import hub_api

pytestmark = pytest.mark.anyio

HUB = "https://hub.docker.com"
PASSWORD = "planted-hub-password"
JWT = "planted-hub-jwt"
WALL = 1_800_000_000.0
D = {name: f"sha256:{name * 64}"[:71] for name in "abcdef"}
AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")
ARMV7 = Platform("linux", "arm", "v7")
WINDOWS = Platform("windows", "amd64")


def image(
    architecture: str | None,
    os: str | None = "linux",
    *,
    variant: str | None = None,
    digest: str | None = None,
    pushed: str | None = None,
    os_version: str | None = None,
) -> dict[str, Any]:
    """An ``images[]`` entry shaped like the Hub API's (with the fields archlag ignores)."""
    return {
        "architecture": architecture,
        "features": "",
        "variant": variant,
        "digest": digest,
        "os": os,
        "os_features": "",
        "os_version": os_version,
        "size": 3_000_000,
        "status": "active",
        "last_pulled": "2026-11-29T10:00:00.123456Z",
        "last_pushed": pushed,
    }


def tag(name: str, pushed: str | None, *images: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "creator": 7,
        "id": 1,
        "images": list(images),
        "last_updated": pushed,
        "last_updater": 7,
        "last_updater_username": "doijanky",
        "name": name,
        "repository": 9,
        "full_size": 3_000_000,
        "v2": True,
        "tag_status": "active",
        "tag_last_pulled": "2026-11-29T10:00:00Z",
        "tag_last_pushed": pushed,
        "media_type": "application/vnd.oci.image.index.v1+json",
        "content_type": "image",
        "digest": D["a"],
    } | extra


def page(results: list[Any], next_url: str | None = None) -> httpx.Response:
    body = {"count": 42, "next": next_url, "previous": None, "results": results}
    return httpx.Response(200, json=body, headers={"Content-Type": "application/json"})


class Hub:
    """Answers through ``respond``; records requests and sleeps; simulated time."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []
        self.now = 0.0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def client(self, **kwargs: Any) -> HubClient:
        kwargs.setdefault("retry", RetryPolicy(jitter=0))
        return hub_api(
            self,
            sleep=self.sleep,
            clock=lambda: self.now,
            wall_clock=lambda: WALL + self.now,
            **kwargs,
        )


async def test_tags_follow_pages_and_come_newest_first_with_platform_push_times() -> None:
    first = [
        tag(
            "1.27",
            "2026-11-20T08:00:00.000001Z",
            image("amd64", digest=D["b"], pushed="2026-11-20T08:00:00Z"),
            image("arm64", variant="v8", digest=D["c"], pushed="2026-11-20T09:30:00Z"),
            image("arm", variant="v7", digest=D["d"], pushed=None),  # nulls are tolerated
            image("unknown", "unknown", digest=D["e"], pushed="2026-11-20T08:00:00Z"),
            image(None, None, digest=None),  # no platform: dropped
        ),
        tag("old", "2019-01-01T00:00:00Z", digest=None, images=None),
    ]
    second = [
        tag(
            "ltsc",
            "2026-11-25T00:00:00+00:00",
            image("amd64", "windows", digest=D["b"], os_version="10.0.17763.5936"),
            image("amd64", "windows", digest=D["c"], os_version="10.0.20348.2527"),
        ),
        tag("never", None),
        tag("1.27", "2026-11-20T08:00:00Z"),  # shifted onto the next page by a push: once only
    ]

    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page") == "2":
            return page(second)
        next_url = f"{HUB}/v2/namespaces/library/repositories/nginx/tags?page=2&page_size=100"
        return page(first, next_url)

    hub = Hub(respond)
    async with hub.client() as client:
        tags = await client.tags("nginx")
    assert [t.name for t in tags] == ["ltsc", "1.27", "old", "never"]
    ltsc, latest, old, never = tags
    assert latest == HubTag(
        "1.27",
        D["a"],
        1795161600.000001,
        (
            HubImage(AMD64, D["b"], 1795161600.0),
            HubImage(ARM64, D["c"], 1795167000.0),
            HubImage(ARMV7, D["d"], None),
        ),
    )
    assert ltsc.images == (HubImage(WINDOWS, D["b"], None),)  # the first of two os_versions
    assert old.digest is None
    assert old.images == ()
    assert never.last_pushed is None
    request = hub.requests[0]
    assert request.url.path == "/v2/namespaces/library/repositories/nginx/tags"
    assert request.url.params["page_size"] == "100"
    assert request.url.params["ordering"] == "last_updated"
    assert "authorization" not in request.headers


@pytest.mark.parametrize(
    ("next_url", "max_pages", "expected_requests"),
    [
        pytest.param("https://evil.example/v2/next", 10, 1, id="other-origin"),
        pytest.param("http://hub.docker.com/v2/next", 10, 1, id="downgraded-scheme"),
        pytest.param(f"{HUB}/v2/next?page={{page}}", 3, 3, id="bounded-by-max-pages"),
        pytest.param(f"{HUB}/v2/next?page=2", 10, 2, id="repeated"),
        pytest.param("/v2/namespaces/library/repositories/nginx/tags?x=1", 10, 2, id="relative"),
        pytest.param("", 10, 1, id="empty"),
    ],
)
async def test_next_links_are_followed_only_on_the_same_origin_and_bounded(
    next_url: str, max_pages: int, expected_requests: int
) -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("x") == "1":
            return page([tag("b", None)])
        number = int(request.url.params.get("page", "1"))
        return page([tag("a", None)], next_url.format(page=number + 1))

    hub = Hub(respond)
    async with hub.client() as client:
        await client.tags("library/nginx", max_pages=max_pages)
    assert len(hub.requests) == expected_requests


async def test_one_tag_and_a_missing_one() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tags/1.0"):
            return httpx.Response(200, json=tag("1.0", "2026-01-01T00:00:00Z", image("s390x")))
        return httpx.Response(404, json={"message": "object not found", "errinfo": {}})

    hub = Hub(respond)
    async with hub.client() as client:
        found = await client.tag("grafana/grafana", "1.0")
        with pytest.raises(NotFoundError):
            await client.tag("grafana/grafana", "2.0")
    assert found.images == (HubImage(Platform("linux", "s390x"), None, None),)
    assert hub.requests[0].url.path == "/v2/namespaces/grafana/repositories/grafana/tags/1.0"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>", id="not-json"),
        pytest.param(json.dumps({"results": {}}).encode(), id="results-not-list"),
        pytest.param(json.dumps({"results": ["1.0"]}).encode(), id="tag-not-object"),
        pytest.param(json.dumps({"results": [{"images": []}]}).encode(), id="no-name"),
        pytest.param(json.dumps({"results": [tag("a", None, images={})]}).encode(), id="images"),
        pytest.param(json.dumps({"results": [tag("a", None, "x")]}).encode(), id="image-text"),
        pytest.param(json.dumps({"results": [tag("a", None, digest=5)]}).encode(), id="digest"),
        pytest.param(
            json.dumps({"results": [tag("a", None, digest="nope")]}).encode(), id="digest-text"
        ),
        pytest.param(json.dumps({"results": [tag("a", "yesterday")]}).encode(), id="date"),
        pytest.param(
            json.dumps({"results": [tag("a", None, image("amd64", pushed=1))]}).encode(),
            id="date-number",
        ),
        pytest.param(json.dumps({"results": [tag("a", None, image(64))]}).encode(), id="arch"),
        pytest.param(
            json.dumps({"results": [tag("a", None, image("x86 64"))]}).encode(), id="implausible"
        ),
        pytest.param(json.dumps({"results": [], "next": 2}).encode(), id="next-number"),
    ],
)
async def test_malformed_pages_are_bad_responses(body: bytes) -> None:
    hub = Hub(lambda request: httpx.Response(200, content=body))
    async with hub.client() as client:
        with pytest.raises(BadResponseError):
            await client.tags("library/nginx")


@pytest.mark.parametrize(
    ("repository", "kwargs"),
    [("a/b/c", {}), ("Nginx", {}), ("nginx", {"page_size": 101}), ("nginx", {"max_pages": 0})],
)
async def test_invalid_arguments_are_refused_before_any_request(
    repository: str, kwargs: dict[str, int]
) -> None:
    hub = Hub(lambda request: page([]))
    async with hub.client() as client:
        with pytest.raises(ValueError):  # noqa: PT011 - the message is not the point
            await client.tags(repository, **kwargs)
    assert hub.requests == []


# -- login ------------------------------------------------------------------------------------


class LoginHub:
    def __init__(self) -> None:
        self.logins = 0
        self.valid: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/auth/token":
            body = json.loads(request.content)
            if body != {"identifier": "alice", "secret": PASSWORD}:
                message = f"wrong secret {body['secret']}"
                return httpx.Response(
                    401, json={"errors": [{"code": "UNAUTHORIZED", "message": message}]}
                )
            self.logins += 1
            token = f"{JWT}-{self.logins}"
            self.valid.add(token)
            return httpx.Response(200, json={"access_token": token})
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.valid:
            return httpx.Response(401, json={"detail": "token expired"})
        return page([tag("private", None)])


async def test_login_gets_a_jwt_that_is_reused_for_nine_minutes() -> None:
    login = LoginHub()
    hub = Hub(login)
    credentials = BasicCredentials("alice", Secret(PASSWORD))
    async with hub.client(credentials=credentials) as client:
        await client.tags("alice/private")
        hub.now = 500.0
        await client.tags("alice/private")
        hub.now = 541.0
        await client.tags("alice/private")
        login.valid.clear()  # revoked early: one new login, one retry
        await client.tags("alice/private")
    api = [r for r in hub.requests if r.url.path != "/v2/auth/token"]
    assert [r.headers["authorization"] for r in api] == [
        f"Bearer {JWT}-1",
        f"Bearer {JWT}-1",
        f"Bearer {JWT}-2",
        f"Bearer {JWT}-2",
        f"Bearer {JWT}-3",
    ]
    assert login.logins == 3
    first = hub.requests[0]
    assert (first.method, first.headers["content-type"]) == ("POST", "application/json")


async def test_failed_login_is_unauthorized_and_keeps_the_password_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    hub = Hub(LoginHub())
    credentials = BasicCredentials("alice", Secret(PASSWORD + "-typo"))
    client = hub.client(credentials=credentials)
    async with client:
        with pytest.raises(UnauthorizedError, match="Docker Hub login: HTTP 401") as info:
            await client.tags("alice/private")
    assert "***" in str(info.value)  # the echoed password was scrubbed
    for text in (str(info.value), repr(info.value), repr(client), repr(credentials), caplog.text):
        assert PASSWORD not in text


# -- limits -----------------------------------------------------------------------------------


async def test_api_rate_limit_headers_and_429_with_x_retry_after() -> None:
    answers = iter(
        [
            page([], None),
            httpx.Response(
                429,
                json={"detail": "Rate limit exceeded", "error": False},
                headers={"X-Retry-After": str(int(WALL + 45))},
            ),
        ]
    )

    def respond(request: httpx.Request) -> httpx.Response:
        response = next(answers, page([tag("a", None)]))
        response.headers.update(
            {
                "X-RateLimit-Limit": "180",
                "X-RateLimit-Remaining": "179",
                "X-RateLimit-Reset": str(int(WALL + 60)),
            }
        )
        return response

    hub = Hub(respond)
    async with hub.client(retry=RetryPolicy(max_wait=10, jitter=0)) as client:
        await client.tags("library/nginx")
        assert client.status().rate_limit == RateLimitStatus(
            180, 179, None, None, WALL, reset_at=WALL + 60
        )
        with pytest.raises(RateLimitedError) as info:
            await client.tags("library/nginx")
        assert info.value.retry_after == 45.0
        assert client.status().backoff_until == WALL + 45
        with pytest.raises(RateLimitedError, match="nothing sent"):
            await client.tag("library/nginx", "latest")
        assert len(hub.requests) == 2
        hub.now = 46.0
        assert [t.name for t in await client.tags("library/nginx")] == ["a"]


async def test_no_requests_left_until_reset_means_waiting_for_the_reset() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        reset = str(int(WALL + hub.now + 8))
        headers = {
            "X-RateLimit-Limit": "180",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset,
        }
        return httpx.Response(200, json={"results": []}, headers=headers)

    hub = Hub(respond)
    async with hub.client() as client:
        await client.tags("library/nginx")
        await client.tags("library/nginx")
    assert hub.sleeps == [8.0]  # the second request waited for the quota to come back
