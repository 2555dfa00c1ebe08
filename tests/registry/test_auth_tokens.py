"""Registry authentication, the tokens: a token server's answers, their lifetime and refresh,
identity tokens' OAuth2 flow, and registry tokens sent as they are.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from archlag.registry import (
    BadResponseError,
    CredentialsError,
    IdentityToken,
    RegistryError,
    RegistryToken,
    RetryPolicy,
    StaticCredentials,
    UnauthorizedError,
)
from archlag.secrets import Secret
from tests.support.manifests import INDEX_DIGEST, manifest_ok
from tests.support.mock_registry import hub_client, mock_client
from tests.support.token_registry import (
    BASIC,
    CREDENTIALS,
    HUB_CHALLENGE,
    TokenRegistry,
    echo,
)

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_basic_credentials_go_to_the_token_endpoint_and_access_token_is_accepted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.docker.io":
            assert request.headers["authorization"] == BASIC
            return httpx.Response(200, json={"access_token": "oauth-token", "expires_in": 300})
        if request.headers.get("authorization") != "Bearer oauth-token":
            return httpx.Response(401, headers={"WWW-Authenticate": HUB_CHALLENGE})
        return manifest_ok()

    client = hub_client(handler, credentials=CREDENTIALS)
    async with client:
        assert (await client.get_manifest("library/nginx", "latest")).digest == INDEX_DIGEST


@pytest.mark.parametrize(
    ("token_body", "elapsed", "expected_token_requests"),
    [
        pytest.param({"expires_in": 300}, [200.0], 1, id="still-valid"),
        pytest.param({"expires_in": 300}, [295.0], 2, id="refreshed-shortly-before-expiry"),
        pytest.param({"expires_in": 300}, [400.0], 2, id="expired"),
        pytest.param({}, [45.0], 1, id="default-60s-still-valid"),
        pytest.param({}, [55.0], 2, id="default-60s-refreshed"),
        pytest.param({"expires_in": 5}, [45.0], 1, id="minimum-60s"),
        pytest.param(
            {"expires_in": 300, "issued_at": "2026-11-29T16:50:43Z"}, [200.0], 1, id="issued-at"
        ),
        pytest.param({"expires_in": 300}, [200.0, 400.0, 750.0], 3, id="keeps-refreshing"),
    ],
)
async def test_token_lifetime_and_refresh(
    token_body: dict[str, Any], elapsed: list[float], expected_token_requests: int
) -> None:
    registry = TokenRegistry(token_body=token_body)
    clock = Clock()
    start = clock.now
    async with registry.client(clock=clock) as client:
        await client.get_manifest("library/nginx", "latest")
        for seconds in elapsed:
            clock.now = start + seconds
            await client.get_manifest("library/nginx", "latest")
    assert len(registry.token_requests) == expected_token_requests
    # Refreshed tokens are fetched up front: only the very first request meets a 401.
    assert [r.headers.get("authorization") is None for r in registry.registry_requests].count(
        True
    ) == 1


async def test_401_with_a_cached_token_refetches_once_and_retries_once() -> None:
    registry = TokenRegistry(token_body={"expires_in": 3600})
    async with registry.client() as client:
        await client.get_manifest("library/nginx", "latest")
        registry.valid.clear()  # the registry revokes token-1 (key rotation, logout...)
        await client.get_manifest("library/nginx", "latest")
    assert [r.headers.get("authorization") for r in registry.registry_requests] == [
        None,
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
    ]


async def test_401_that_persists_after_a_fresh_token_is_unauthorized_without_looping() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "auth.docker.io":
            return httpx.Response(200, json={"token": "useless"})
        return httpx.Response(401, headers={"WWW-Authenticate": HUB_CHALLENGE})

    seen: list[httpx.Request] = []
    client = hub_client(handler)
    async with client:
        with pytest.raises(UnauthorizedError) as info:
            await client.get_manifest("library/private", "latest")
        assert len(seen) == 3  # request, token, retry
        with pytest.raises(UnauthorizedError):
            await client.get_manifest("library/private", "latest")
    assert info.value.result == "unauthorized"
    assert len(seen) == 6  # cached token up front, 401, fresh token, retry: still bounded


async def test_token_endpoint_gets_the_same_retries() -> None:
    responses = [httpx.Response(503), httpx.Response(200, json={"token": "t"})]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.docker.io":
            return responses.pop(0)
        if request.headers.get("authorization") != "Bearer t":
            return httpx.Response(401, headers={"WWW-Authenticate": HUB_CHALLENGE})
        return manifest_ok()

    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    client = hub_client(handler, sleep=sleep, retry=RetryPolicy(jitter=0))
    async with client:
        await client.get_manifest("library/nginx", "latest")
    assert sleeps == [0.5]


@pytest.mark.parametrize(
    ("response", "error", "match"),
    [
        (
            httpx.Response(401, json={"details": "incorrect username or password"}),
            UnauthorizedError,
            "token request: HTTP 401",
        ),
        (httpx.Response(200, content=b"<html>"), BadResponseError, "not JSON"),
        (httpx.Response(200, json=["token"]), BadResponseError, "not a JSON object"),
        (httpx.Response(200, json={"expires_in": 60}), BadResponseError, "no token"),
        (httpx.Response(200, json={"token": ""}), BadResponseError, "no token"),
        (
            httpx.Response(200, json={"token": "t", "expires_in": "soon"}),
            BadResponseError,
            "expires_in",
        ),
        (httpx.Response(200, json={"token": "t", "issued_at": 5}), BadResponseError, "issued_at"),
    ],
)
async def test_token_endpoint_failures(
    response: httpx.Response, error: type[RegistryError], match: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.docker.io":
            return response
        return httpx.Response(401, headers={"WWW-Authenticate": HUB_CHALLENGE})

    client = hub_client(handler)
    async with client:
        with pytest.raises(error, match=match) as info:
            await client.get_manifest("library/nginx", "latest")
    assert info.value.repository == "library/nginx"


# -- identity tokens: the OAuth2 POST flow ----------------------------------------------------

IDENTITY = "planted-identity-token-0123"


REGISTRY_TOKEN = "planted-registry-token-4567"


class OAuthRegistry(TokenRegistry):
    """A token server that also speaks the POST flow (or answers it with 404, like old ones)."""

    def __init__(self, *, post_supported: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.post_supported = post_supported

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == self.auth_host and request.method == "POST":
            self.requests.append(request)
            if not self.post_supported:
                return httpx.Response(404, text="404 page not found")
            form = dict(httpx.QueryParams(request.content.decode()))
            if form.get("refresh_token") != IDENTITY:
                return httpx.Response(401, json={"details": "bad refresh token"})
            self.issued += 1
            token = f"oauth-{self.issued}"
            self.valid.add(token)
            return httpx.Response(
                200, json={"access_token": token, "expires_in": 300, "scope": form.get("scope")}
            )
        return super().__call__(request)


async def test_identity_token_uses_the_post_refresh_token_flow() -> None:
    registry = OAuthRegistry()
    clock = Clock()
    source = StaticCredentials(IdentityToken(Secret(IDENTITY)))
    async with registry.client(credentials=source, clock=clock) as client:
        await client.get_manifest("library/nginx", "latest")
        clock.now += 400  # expired: refreshed with the same identity token
        await client.get_manifest("library/nginx", "latest")
    posts = registry.token_requests
    assert [r.method for r in posts] == ["POST", "POST"]
    assert posts[0].url == "https://auth.docker.io/token"  # no query: everything is in the form
    assert posts[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(httpx.QueryParams(posts[0].content.decode())) == {
        "grant_type": "refresh_token",
        "client_id": "archlag",
        "refresh_token": IDENTITY,
        "service": "registry.docker.io",
        "scope": "repository:library/nginx:pull",
    }
    assert [r.headers.get("authorization") for r in registry.registry_requests] == [
        None,
        "Bearer oauth-1",
        "Bearer oauth-2",
    ]


async def test_post_answered_with_404_falls_back_to_get_and_remembers() -> None:
    registry = OAuthRegistry(post_supported=False)
    source = StaticCredentials(IdentityToken(Secret(IDENTITY)))
    async with registry.client(credentials=source) as client:
        await client.get_manifest("library/nginx", "latest")
        await client.get_manifest("library/alpine", "latest")  # another scope: GET straight away
    assert [(r.method, r.url.path) for r in registry.token_requests] == [
        ("POST", "/token"),
        ("GET", "/token"),
        ("GET", "/token"),
    ]
    get = registry.token_requests[1]
    assert get.url.params["scope"] == "repository:library/nginx:pull"
    assert "authorization" not in get.headers  # an identity token is never sent as Basic


async def test_refused_identity_token_is_unauthorized() -> None:
    registry = OAuthRegistry()
    source = StaticCredentials(IdentityToken(Secret("wrong-token")))
    async with registry.client(credentials=source) as client:
        with pytest.raises(UnauthorizedError, match="token request: HTTP 401"):
            await client.get_manifest("library/nginx", "latest")


async def test_identity_token_cannot_answer_a_basic_challenge() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="basic-realm"'})

    client = mock_client(
        handler, name="r", credentials=StaticCredentials(IdentityToken(Secret(IDENTITY)))
    )
    async with client:
        with pytest.raises(UnauthorizedError, match="identity token") as info:
            await client.ping()
    assert IDENTITY not in str(info.value)


# -- registry tokens: sent as they are ----------------------------------------------------------


async def test_registry_token_is_sent_as_bearer_without_a_token_server() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("authorization") != f"Bearer {REGISTRY_TOKEN}":
            return httpx.Response(401, headers={"WWW-Authenticate": HUB_CHALLENGE})
        return manifest_ok()

    client = hub_client(
        handler, credentials=StaticCredentials(RegistryToken(Secret(REGISTRY_TOKEN)))
    )
    async with client:
        await client.get_manifest("library/nginx", "latest")
        await client.head_manifest("library/nginx", "latest")
    assert [r.url.host for r in seen] == ["registry-1.docker.io"] * 2  # never auth.docker.io
    assert all(r.headers["authorization"] == f"Bearer {REGISTRY_TOKEN}" for r in seen)


async def test_refused_registry_token_is_unauthorized_without_retrying() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, headers={"WWW-Authenticate": HUB_CHALLENGE})

    client = hub_client(
        handler, credentials=StaticCredentials(RegistryToken(Secret(REGISTRY_TOKEN)))
    )
    async with client:
        with pytest.raises(UnauthorizedError, match="HTTP 401"):
            await client.get_manifest("library/nginx", "latest")
    assert len(seen) == 1


async def test_credentials_that_cannot_be_loaded_fail_the_request_with_context() -> None:
    class Broken:
        async def credentials(self) -> None:
            raise CredentialsError("docker config /x: not valid JSON (line 1)", registry="r")

    registry = TokenRegistry()
    async with registry.client(credentials=Broken()) as client:
        with pytest.raises(CredentialsError, match="not valid JSON") as info:
            await client.get_manifest("library/nginx", "latest")
    assert info.value.result == "unauthorized"
    assert info.value.repository == "library/nginx"
    assert registry.registry_requests == []  # nothing sent with half-loaded credentials


@pytest.mark.parametrize(
    ("credentials", "planted"),
    [
        pytest.param(IdentityToken(Secret(IDENTITY)), IDENTITY, id="identity-token"),
        pytest.param(RegistryToken(Secret(REGISTRY_TOKEN)), REGISTRY_TOKEN, id="registry-token"),
    ],
)
async def test_planted_tokens_are_scrubbed_from_echoing_errors(
    credentials: IdentityToken | RegistryToken, planted: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.docker.io":
            return echo(401, planted, request.content.decode())
        if "authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": HUB_CHALLENGE})
        return echo(403, request.headers["authorization"])

    client = hub_client(
        handler, credentials=StaticCredentials(credentials), retry=RetryPolicy(attempts=1)
    )
    async with client:
        with pytest.raises(UnauthorizedError) as info:
            await client.get_manifest("library/nginx", "latest")
    assert "***" in str(info.value)
    for text in (str(info.value), repr(info.value), repr(credentials), repr(client)):
        assert planted not in text
