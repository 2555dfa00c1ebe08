"""Registry authentication, the challenges: what a registry asks for (Bearer or Basic)
answered with the right credentials, sent only where they may go, and no planted secret in any
error.
"""

from __future__ import annotations

import httpx
import pytest

from archlag.registry import (
    BadResponseError,
    RegistryClient,
    RegistryConnectionError,
    RegistryError,
    RetryPolicy,
    StaticCredentials,
    UnauthorizedError,
)
from archlag.registry.auth import Challenge, parse_challenges
from tests.support.manifests import INDEX_DIGEST, manifest_ok
from tests.support.mock_registry import hub_client, mock_client
from tests.support.token_registry import (
    BASIC,
    CREDENTIALS,
    HUB_CHALLENGE,
    PASSWORD,
    TokenRegistry,
    echo,
)

pytestmark = pytest.mark.anyio

LOCAL = "http://127.0.0.1:5000"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(
            HUB_CHALLENGE,
            [
                Challenge(
                    "bearer",
                    {"realm": "https://auth.docker.io/token", "service": "registry.docker.io"},
                )
            ],
            id="docker-hub",
        ),
        pytest.param(
            'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"',
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://ghcr.io/token",
                        "service": "ghcr.io",
                        "scope": "repository:user/image:pull",
                    },
                )
            ],
            id="ghcr-with-scope",
        ),
        pytest.param(
            'Bearer realm="https://r.example/token",scope="repository:samalba/my-app:pull,push",'
            'error="insufficient_scope"',
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://r.example/token",
                        "scope": "repository:samalba/my-app:pull,push",
                        "error": "insufficient_scope",
                    },
                )
            ],
            id="comma-inside-quotes",
        ),
        pytest.param(
            'Bearer realm="https://codeberg.org/v2/token",service="container_registry",scope="*",'
            'Basic realm="https://codeberg.org/v2/token",service="container_registry",scope="*"',
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://codeberg.org/v2/token",
                        "service": "container_registry",
                        "scope": "*",
                    },
                ),
                Challenge(
                    "basic",
                    {
                        "realm": "https://codeberg.org/v2/token",
                        "service": "container_registry",
                        "scope": "*",
                    },
                ),
            ],
            id="two-challenges-one-header",
        ),
        pytest.param(
            'BASIC realm="basic-realm"', [Challenge("basic", {"realm": "basic-realm"})], id="case"
        ),
        pytest.param(
            'Basic Realm = "a \\"quoted\\" realm" , Charset=UTF-8',
            [Challenge("basic", {"realm": 'a "quoted" realm', "charset": "UTF-8"})],
            id="escapes-and-spaces",
        ),
        pytest.param(
            "Negotiate, Basic realm=plain",
            [Challenge("negotiate", {}), Challenge("basic", {"realm": "plain"})],
            id="scheme-without-params",
        ),
        pytest.param(
            'Bearer realm="unterminated',
            [Challenge("bearer", {"realm": "unterminated"})],
            id="unterminated",
        ),
        pytest.param("", [], id="empty"),
        pytest.param(';;; "garbage"', [], id="garbage"),
    ],
)
def test_parse_challenges(header: str, expected: list[Challenge]) -> None:
    parsed = parse_challenges([header])
    assert [(c.scheme, dict(c.params)) for c in parsed] == [
        (c.scheme, dict(c.params)) for c in expected
    ]


@pytest.mark.parametrize(
    "challenge",
    [
        pytest.param(HUB_CHALLENGE, id="no-scope-in-challenge"),
        pytest.param(
            HUB_CHALLENGE + ',scope="repository:library/nginx:pull"', id="scope-in-challenge"
        ),
    ],
)
async def test_docker_hub_bearer_flow_then_tokens_up_front(challenge: str) -> None:
    registry = TokenRegistry(challenge)
    async with registry.client() as client:
        manifest = await client.get_manifest("library/nginx", "latest")
        await client.get_manifest("library/alpine", "3.20")
        await client.get_manifest("library/nginx", "1.27")
    assert manifest.digest == INDEX_DIGEST
    first_token = registry.token_requests[0]
    assert first_token.url.path == "/token"
    assert first_token.url.params["service"] == "registry.docker.io"
    assert first_token.url.params["scope"] == "repository:library/nginx:pull"
    assert "authorization" not in first_token.headers  # anonymous
    # nginx: 401 then retry; alpine: token fetched before the request; nginx again: cached token.
    assert [r.headers.get("authorization") for r in registry.registry_requests] == [
        None,
        "Bearer token-1",
        "Bearer token-2",
        "Bearer token-1",
    ]
    assert registry.token_requests[1].url.params["scope"] == "repository:library/alpine:pull"
    assert len(registry.token_requests) == 2


@pytest.mark.parametrize(
    ("challenge", "auth_host", "expected_scope"),
    [
        pytest.param(
            'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"',
            "ghcr.io",
            "repository:user/image:pull",
            id="ghcr",
        ),
        pytest.param(
            'Bearer realm="https://public.ecr.aws/token/",service="public.ecr.aws",scope="aws"',
            "public.ecr.aws",
            "aws",
            id="ecr-public-scope",
        ),
    ],
)
async def test_challenge_scope_is_used_for_the_token(
    challenge: str, auth_host: str, expected_scope: str
) -> None:
    registry = TokenRegistry(challenge, auth_host=auth_host)
    client = mock_client(registry, name="reg")
    async with client:
        await client.get_manifest("user/image", "1.0")
        await client.get_manifest("user/image", "1.1")
    assert [r.url.params["scope"] for r in registry.token_requests] == [expected_scope]
    assert [r.headers.get("authorization") for r in registry.registry_requests] == [
        None,
        "Bearer token-1",
        "Bearer token-1",  # sent up front: the registry's scope was remembered
    ]


async def test_basic_challenge_with_credentials() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        if request.headers.get("authorization") != BASIC:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="basic-realm"'})
        return manifest_ok()

    seen: list[str | None] = []
    client = mock_client(handler, LOCAL, credentials=CREDENTIALS)
    async with client:
        await client.get_manifest("demo/app", "1.0")
        await client.get_manifest("demo/app", "1.1")
    assert seen == [None, BASIC, BASIC]  # after the first challenge, Basic goes up front


@pytest.mark.parametrize(
    ("credentials", "match", "requests"),
    [
        pytest.param(None, "none are configured", 1, id="no-credentials"),
        pytest.param(CREDENTIALS, "HTTP 401", 2, id="wrong-credentials"),
    ],
)
async def test_basic_challenge_failures_are_unauthorized(
    credentials: StaticCredentials | None, match: str, requests: int
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="basic-realm"'})

    seen: list[httpx.Request] = []
    client = mock_client(handler, LOCAL, credentials=credentials)
    async with client:
        with pytest.raises(UnauthorizedError, match=match):
            await client.ping()
    assert len(seen) == requests


async def test_two_challenges_in_one_header_prefer_bearer() -> None:
    challenge = (
        'Bearer realm="https://auth.docker.io/token",service="container_registry",scope="*",'
        'Basic realm="https://auth.docker.io/token",service="container_registry",scope="*"'
    )
    registry = TokenRegistry(challenge)
    async with registry.client() as client:
        await client.get_manifest("demo/app", "1.0")
    assert [r.url.params["scope"] for r in registry.token_requests] == ["*"]


@pytest.mark.parametrize(
    "realm",
    ['"ftp://auth.example/token"', '"/relative"', '"http://[::1"'],
)
async def test_unusable_realm_is_a_bad_response(realm: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, headers={"WWW-Authenticate": f"Bearer realm={realm}"})

    client = mock_client(handler, name="r")
    async with client:
        with pytest.raises(BadResponseError, match="realm"):
            await client.ping()


async def test_password_is_not_sent_in_clear_text_to_another_host() -> None:
    registry = TokenRegistry(
        'Bearer realm="http://auth.example/token",service="s"', auth_host="auth.example"
    )
    client = mock_client(registry, credentials=CREDENTIALS)
    async with client:
        await client.get_manifest("demo/app", "1.0")
    assert "authorization" not in registry.token_requests[0].headers


# -- secrets --------------------------------------------------------------------------------

TOKEN = "planted-token-eyJhbGciOi"


BASIC_B64 = BASIC.removeprefix("Basic ")


async def raised_errors() -> list[RegistryError]:
    """Failures whose untrusted inputs echo the planted password and token back at us."""

    def token_server_echoes_password(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.docker.io":
            return echo(401, PASSWORD, request.headers["authorization"], BASIC_B64)
        return httpx.Response(401, headers={"WWW-Authenticate": HUB_CHALLENGE})

    def registry_echoes_token(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.docker.io":
            return httpx.Response(200, json={"token": TOKEN})
        if "authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": HUB_CHALLENGE})
        return echo(403, request.headers["authorization"], TOKEN)

    def transport_error_mentions_token(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.docker.io":
            return httpx.Response(200, json={"token": TOKEN})
        if "authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": HUB_CHALLENGE})
        raise httpx.ConnectError(f"proxy refused header {request.headers['authorization']}")

    def basic_registry_echoes_password(request: httpx.Request) -> httpx.Response:
        if "authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        return echo(400, PASSWORD, request.headers["authorization"])

    errors: list[RegistryError] = []
    for handler in (
        token_server_echoes_password,
        registry_echoes_token,
        transport_error_mentions_token,
        basic_registry_echoes_password,
    ):
        client = hub_client(handler, credentials=CREDENTIALS, retry=RetryPolicy(attempts=1))
        async with client:
            with pytest.raises(RegistryError) as info:
                await client.get_manifest("library/nginx", "latest")
            errors.append(info.value)
    return errors


async def test_planted_password_and_token_never_show_in_errors_or_reprs() -> None:
    errors = await raised_errors()
    assert [type(e) for e in errors] == [
        UnauthorizedError,
        UnauthorizedError,
        RegistryConnectionError,
        BadResponseError,
    ]
    assert all("***" in str(e) for e in errors)  # the echo was there, and was scrubbed
    client = RegistryClient("docker.io", "https://registry-1.docker.io", credentials=CREDENTIALS)
    await client.aclose()
    texts = [text for e in errors for text in (str(e), repr(e), *map(str, e.args))]
    texts += [repr(CREDENTIALS), str(CREDENTIALS.value), repr(client)]
    for text in texts:
        assert PASSWORD not in text
        assert TOKEN not in text
        assert BASIC_B64 not in text
