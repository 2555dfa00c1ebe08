"""Authentication state heals, and credentials go only where they may.

A bad realm, a failed token request or a garbage token fails one request; nothing of it is
remembered, and the next request starts again from the registry's challenge. Credentials go
only to the registry's own origin or to a realm over https, and credentials that cannot be sent
as they are (a secret file's newline) are refused before anything is sent.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from archlag.registry import (
    BadResponseError,
    BasicCredentials,
    Credentials,
    CredentialsError,
    IdentityToken,
    RegistryClient,
    RegistryError,
    RegistryToken,
    RetryPolicy,
    ServerError,
    StaticCredentials,
    UnauthorizedError,
)
from archlag.secrets import Secret
from tests.support.manifests import INDEX_DIGEST, manifest_ok
from tests.support.mock_registry import hub_api, mock_client, quay_api

pytestmark = pytest.mark.anyio

GOOD = 'Bearer realm="https://auth.example/token",service="registry.example"'
PASSWORD = "planted-healing-password"
CREDENTIALS = BasicCredentials("alice", Secret(PASSWORD))
BASIC = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()


class Registry:
    """A registry behind token servers; a test changes its challenge and token answers."""

    def __init__(self, challenge: str = GOOD) -> None:
        self.challenge = challenge
        self.token_answer: Callable[[httpx.Request], httpx.Response] = self.issue
        self.valid: set[str] = set()
        self.issued = 0
        self.requests: list[httpx.Request] = []

    def issue(self, request: httpx.Request) -> httpx.Response:
        self.issued += 1
        token = f"token-{self.issued}"
        self.valid.add(token)
        return httpx.Response(200, json={"token": token, "expires_in": 300})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/token":
            return self.token_answer(request)
        authorization = request.headers.get("authorization", "")
        basic = self.challenge.startswith("Basic") and authorization == BASIC
        if basic or authorization.removeprefix("Bearer ") in self.valid:
            return manifest_ok()
        return httpx.Response(401, headers=[(b"www-authenticate", self.challenge.encode())])

    def since(self, start: int) -> list[tuple[str, str | None]]:
        """(host, Authorization) of the requests from number ``start`` on."""
        return [(r.url.host, r.headers.get("authorization")) for r in self.requests[start:]]

    def client(self, base: str = "https://registry.example", **kwargs: Any) -> RegistryClient:
        return mock_client(
            self, base, name=httpx.URL(base).host, retry=RetryPolicy(attempts=1), **kwargs
        )


@pytest.mark.parametrize(
    ("challenge", "limit"),
    [
        pytest.param('Bearer realm="ftp://auth.example/token"', "bad_url", id="ftp"),
        pytest.param('Bearer realm="http://[::1"', "bad_url", id="unclosed-ipv6"),
        pytest.param('Bearer realm="/token"', "bad_url", id="relative"),
        pytest.param('Bearer realm="https://u:p@auth.example/token"', "bad_url", id="userinfo"),
        pytest.param('Bearer realm=""', "bad_header", id="empty"),
        pytest.param('Bearer service="registry.example"', "bad_header", id="missing"),
    ],
)
async def test_a_bad_realm_fails_one_request_and_the_next_starts_from_the_challenge(
    challenge: str, limit: str
) -> None:
    registry = Registry(challenge)
    async with registry.client() as client:
        with pytest.raises(BadResponseError, match="realm"):
            await client.get_manifest("demo/app", "1.0")
        assert registry.since(0) == [("registry.example", None)]  # nothing sent to the realm
        assert client.status().limits_hit[limit] == 1
        registry.challenge = GOOD  # the registry heals
        manifest = await client.get_manifest("demo/app", "1.0")
    assert manifest.digest == INDEX_DIGEST
    assert registry.since(1) == [
        ("registry.example", None),  # no state was kept: the challenge again
        ("auth.example", None),
        ("registry.example", "Bearer token-1"),
    ]


async def test_a_failed_token_request_is_not_remembered() -> None:
    registry = Registry()
    registry.token_answer = lambda request: httpx.Response(503)
    async with registry.client() as client:
        with pytest.raises(ServerError, match="HTTP 503"):
            await client.get_manifest("demo/app", "1.0")
        registry.token_answer = registry.issue
        await client.get_manifest("demo/app", "1.0")
    assert registry.since(2) == [
        ("registry.example", None),
        ("auth.example", None),
        ("registry.example", "Bearer token-1"),
    ]


@pytest.mark.parametrize(
    "token",
    ["token\n", "to ken", "x" * 20_000, "tok\x00en", "tökén", "\x1b[31mred"],
    ids=["newline", "space", "huge", "nul", "non-ascii", "escape"],
)
async def test_a_garbage_token_is_refused_never_sent_and_not_cached(token: str) -> None:
    registry = Registry()
    registry.token_answer = lambda request: httpx.Response(200, json={"token": token})
    async with registry.client() as client:
        with pytest.raises(BadResponseError, match="cannot be sent in a header") as info:
            await client.get_manifest("demo/app", "1.0")
        assert client.status().limits_hit["bad_token"] == 1
        registry.token_answer = registry.issue
        await client.get_manifest("demo/app", "1.0")
    assert token not in str(info.value)
    assert registry.since(0) == [
        ("registry.example", None),
        ("auth.example", None),  # the garbage: nothing more was sent with it
        ("registry.example", None),
        ("auth.example", None),
        ("registry.example", "Bearer token-1"),
    ]


async def test_a_token_server_failing_later_sends_the_next_request_back_to_the_challenge() -> None:
    registry = Registry()
    now = [1000.0]
    async with registry.client(clock=lambda: now[0]) as client:
        await client.get_manifest("demo/app", "1.0")
        now[0] += 3600  # the token expired; the registry moved its token server and the old
        registry.token_answer = lambda request: httpx.Response(503)  # one fails
        with pytest.raises(ServerError):
            await client.get_manifest("demo/app", "1.0")
        registry.challenge = GOOD.replace("auth.example/token", "auth2.example/token")
        registry.token_answer = registry.issue
        await client.get_manifest("demo/app", "1.0")
    assert registry.since(3) == [
        ("auth.example", None),  # up front, with the realm that worked: fails
        ("registry.example", None),  # then the challenge again, which names the new realm
        ("auth2.example", None),
        ("registry.example", "Bearer token-2"),
    ]


async def test_refused_basic_credentials_are_not_sent_up_front_again() -> None:
    registry = Registry('Basic realm="basic-realm"')
    async with registry.client(credentials=StaticCredentials(CREDENTIALS)) as client:
        await client.get_manifest("demo/app", "1.0")
        registry.challenge = GOOD  # the registry moved to token auth
        with pytest.raises(UnauthorizedError, match="HTTP 401"):
            await client.get_manifest("demo/app", "1.0")
        await client.get_manifest("demo/app", "1.0")
    assert registry.since(0) == [
        ("registry.example", None),
        ("registry.example", BASIC),
        ("registry.example", BASIC),  # up front, refused with a bearer challenge
        ("registry.example", None),  # the next request starts from the challenge
        ("auth.example", BASIC),
        ("registry.example", "Bearer token-1"),
    ]


# -- where credentials may go -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "realm", "sent"),
    [
        pytest.param("http://127.0.0.1:5000", "http://127.0.0.1:5000/token", True, id="same"),
        pytest.param("http://127.0.0.1:5000", "http://127.0.0.1:5001/token", False, id="port"),
        pytest.param("http://127.0.0.1:5000", "https://127.0.0.1:5001/token", True, id="https"),
        pytest.param("https://registry.example", "http://registry.example/token", False, id="http"),
        pytest.param("https://registry.example", "https://auth.example/token", True, id="host"),
        pytest.param("https://registry.example", "http://auth.example/token", False, id="clear"),
    ],
)
@pytest.mark.parametrize(
    "credentials",
    [CREDENTIALS, IdentityToken(Secret("planted-identity-token"))],
    ids=["basic", "identity-token"],
)
async def test_credentials_go_only_to_the_same_origin_or_a_realm_over_https(
    base: str, realm: str, sent: bool, credentials: Credentials
) -> None:
    registry = Registry(f'Bearer realm="{realm}",service="s"')

    def token_server(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":  # the identity token's OAuth2 flow
            return httpx.Response(200, json={"access_token": "token-oauth"})
        return registry.issue(request)

    registry.token_answer = token_server
    registry.valid.add("token-oauth")
    async with registry.client(base, credentials=StaticCredentials(credentials)) as client:
        await client.get_manifest("demo/app", "1.0")
    token_request = next(r for r in registry.requests if r.url.path == "/token")
    carried = token_request.method == "POST" or "authorization" in token_request.headers
    assert carried == sent


# -- credentials that cannot be sent ------------------------------------------------------------


@pytest.mark.parametrize(
    ("credentials", "planted"),
    [
        pytest.param(RegistryToken(Secret("planted-token\n")), "planted-token", id="token-newline"),
        pytest.param(RegistryToken(Secret("planted token")), "planted token", id="token-space"),
        pytest.param(RegistryToken(Secret("plänted-token")), "plänted-token", id="token-non-ascii"),
        pytest.param(
            BasicCredentials("alice", Secret("planted-password\n")), "planted-password", id="basic"
        ),
        pytest.param(IdentityToken(Secret("planted-identity\r\n")), "planted-identity", id="id"),
        pytest.param(
            BasicCredentials("alice", Secret("planted-\udcff-password")),
            "planted-",
            id="basic-not-utf8",
        ),
    ],
)
async def test_credentials_with_a_control_character_are_refused_before_sending(
    credentials: Credentials, planted: str
) -> None:
    registry = Registry('Basic realm="r"' if isinstance(credentials, BasicCredentials) else GOOD)
    async with registry.client(credentials=StaticCredentials(credentials)) as client:
        with pytest.raises(CredentialsError, match="nothing was sent") as info:
            await client.get_manifest("demo/app", "1.0")
    assert info.value.result == "unauthorized"
    assert planted not in str(info.value)
    assert all(r.url.path != "/token" for r in registry.requests)
    assert all("authorization" not in r.headers for r in registry.requests)
    assert len(registry.requests) <= 1  # at most the anonymous request that met the challenge


async def test_a_quay_token_with_a_newline_is_refused_before_sending() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"tags": []})

    client = quay_api(handler, token=Secret("planted-quay-token\n"))
    async with client:
        with pytest.raises(CredentialsError, match="nothing was sent") as info:
            await client.tag_history("org/app", "1.0")
    assert seen == []
    assert "planted-quay-token" not in str(info.value)


async def test_a_docker_hub_login_answering_a_garbage_token_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/auth/token":
            return httpx.Response(200, json={"access_token": "jwt\nX-Injected: 1"})
        raise AssertionError("nothing may be sent with a garbage token")

    client = hub_api(handler, credentials=CREDENTIALS, retry=RetryPolicy())
    async with client:
        with pytest.raises(RegistryError, match="token that cannot be sent"):
            await client.tag("library/nginx", "latest")
        assert client.status().limits_hit["bad_token"] == 1
