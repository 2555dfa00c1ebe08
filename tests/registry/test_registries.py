"""Each real registry's authentication and paging quirks, replayed with MockTransport.

Challenge headers and token answers follow what the registries send (see the protocol
reference): Docker Hub's scope-less challenge, GHCR's challenge even for public tag lists, ECR
Public's ``scope="aws"``, Harbor's token service with robot accounts, MCR's anonymous access with
blobs on a CDN host, and distribution v3's relative ``Link`` pages with ``n`` clamped.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from archlag.registry import (
    BasicCredentials,
    RegistryClient,
    RetryPolicy,
    StaticCredentials,
    UnauthorizedError,
)
from archlag.secrets import Secret
from tests.support.manifests import INDEX_DIGEST, manifest_ok
from tests.support.mock_registry import mock_client

pytestmark = pytest.mark.anyio

CONFIG = b'{"architecture": "amd64", "os": "windows"}'
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG).hexdigest()
UNAUTHORIZED = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}


@dataclass
class Registry:
    """A registry behind a token service at ``realm``; tokens are valid for any scope asked."""

    base: str
    challenge: str
    realm: str
    token_body: dict[str, Any]
    repository: str
    tags: list[str] = field(default_factory=lambda: ["1.0", "1.1", "latest"])
    requests: list[httpx.Request] = field(default_factory=list)
    issued: int = 0

    @property
    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if str(r.url).startswith(self.realm)]

    @property
    def registry_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r not in self.token_requests]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if str(request.url).startswith(self.realm):
            self.issued += 1
            token = f"token-{self.issued}"
            return httpx.Response(200, json={"token": token, **self.token_body})
        if not request.headers.get("authorization", "").startswith("Bearer token-"):
            return httpx.Response(
                401, headers={"WWW-Authenticate": self.challenge}, json=UNAUTHORIZED
            )
        if request.url.path.endswith("/tags/list"):
            return httpx.Response(200, json={"name": self.repository, "tags": self.tags})
        return manifest_ok()

    def client(self, **kwargs: Any) -> RegistryClient:
        return mock_client(self, self.base, retry=RetryPolicy(attempts=1), **kwargs)


REGISTRIES = [  # (registry arguments, expected service, expected scope)
    pytest.param(
        (
            "https://registry-1.docker.io",
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
            "https://auth.docker.io/token",
            {"expires_in": 300, "issued_at": "2026-11-29T16:50:43Z"},
            "library/nginx",
        ),
        "registry.docker.io",
        "repository:library/nginx:pull",
        id="docker-hub",
    ),
    pytest.param(
        (
            "https://ghcr.io",
            'Bearer realm="https://ghcr.io/token",service="ghcr.io",'
            'scope="repository:owner/image:pull"',
            "https://ghcr.io/token",
            {},
            "owner/image",
        ),
        "ghcr.io",
        "repository:owner/image:pull",
        id="ghcr",
    ),
    pytest.param(
        (
            "https://quay.io",
            'Bearer realm="https://quay.io/v2/auth",service="quay.io"',
            "https://quay.io/v2/auth",
            {},
            "prometheus/node-exporter",
        ),
        "quay.io",
        "repository:prometheus/node-exporter:pull",
        id="quay",
    ),
    pytest.param(
        (
            "https://public.ecr.aws",
            'Bearer realm="https://public.ecr.aws/token/",service="public.ecr.aws",scope="aws"',
            "https://public.ecr.aws/token/",
            {},
            "docker/library/redis",
        ),
        "public.ecr.aws",
        "aws",
        id="ecr-public",
    ),
    pytest.param(
        (
            "https://harbor.example",
            'Bearer realm="https://harbor.example/service/token",service="harbor-registry",'
            'scope="repository:library/app:pull"',
            "https://harbor.example/service/token",
            {"access_token": "ignored-alias", "expires_in": 1800},
            "library/app",
        ),
        "harbor-registry",
        "repository:library/app:pull",
        id="harbor",
    ),
]


@pytest.mark.parametrize(("arguments", "service", "scope"), REGISTRIES)
async def test_anonymous_token_flow(arguments: tuple[Any, ...], service: str, scope: str) -> None:
    registry = Registry(*arguments)
    async with registry.client() as client:
        assert await client.list_tags(registry.repository) == ["1.0", "1.1", "latest"]
        head = await client.head_manifest(registry.repository, "latest")
        manifest = await client.get_manifest(registry.repository, "latest")
    assert head.digest == manifest.digest == INDEX_DIGEST
    assert len(registry.token_requests) == 1  # one scope, one token, reused
    token_request = registry.token_requests[0]
    assert token_request.method == "GET"
    assert token_request.url.params["service"] == service
    assert token_request.url.params.get_list("scope") == [scope]
    assert "authorization" not in token_request.headers
    assert [r.headers.get("authorization") for r in registry.registry_requests] == [
        None,  # the challenge
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-1",
    ]


@pytest.mark.parametrize(("arguments", "service", "scope"), REGISTRIES)
async def test_basic_credentials_go_to_each_token_service(
    arguments: tuple[Any, ...], service: str, scope: str
) -> None:
    registry = Registry(*arguments)
    credentials = StaticCredentials(BasicCredentials("robot$ci", Secret("robot-secret")))
    async with registry.client(credentials=credentials) as client:
        await client.get_manifest(registry.repository, "latest")
    expected = "Basic " + base64.b64encode(b"robot$ci:robot-secret").decode()
    assert registry.token_requests[0].headers["authorization"] == expected


async def test_expired_harbor_token_is_refetched_once() -> None:
    """Harbor tokens expire (30 min by default); a 401 with a cached token gets one new one."""
    harbor = Registry(
        "https://harbor.example",
        'Bearer realm="https://harbor.example/service/token",service="harbor-registry",'
        'scope="repository:library/app:pull"',
        "https://harbor.example/service/token",
        {"expires_in": 1800},
        "library/app",
    )
    revoked: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") in revoked:
            harbor.requests.append(request)
            challenge = harbor.challenge + ',error="invalid_token"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        return harbor(request)

    client = mock_client(handler, harbor.base)
    async with client:
        await client.get_manifest("library/app", "1.0")
        revoked.add("Bearer token-1")  # expired early: Harbor restarted with a new key
        await client.get_manifest("library/app", "1.0")
    assert [r.headers.get("authorization") for r in harbor.registry_requests] == [
        None,
        "Bearer token-1",
        "Bearer token-1",  # refused
        "Bearer token-2",
    ]
    assert len(harbor.token_requests) == 2


async def test_mcr_is_anonymous_and_blobs_come_from_the_cdn_without_authorization() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "eastus.data.mcr.microsoft.com":
            return httpx.Response(200, content=CONFIG)
        if "/blobs/" in request.url.path:
            cdn = f"https://eastus.data.mcr.microsoft.com/aaa/{CONFIG_DIGEST}?sig=x"
            return httpx.Response(307, headers={"Location": cdn})
        return manifest_ok()

    client = mock_client(handler, "https://mcr.microsoft.com")
    async with client:
        await client.get_manifest("dotnet/runtime", "8.0")
        assert await client.get_blob("dotnet/runtime", CONFIG_DIGEST) == CONFIG
    assert [r.url.host for r in seen] == [
        "mcr.microsoft.com",
        "mcr.microsoft.com",
        "eastus.data.mcr.microsoft.com",
    ]
    assert not any("authorization" in r.headers for r in seen)


async def test_ghcr_private_package_with_a_stale_token_is_denied_clearly() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"token": "djE6b3duZXI="})
        if "authorization" not in request.headers:
            challenge = (
                'Bearer realm="https://ghcr.io/token",service="ghcr.io",'
                'scope="repository:owner/private:pull"'
            )
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        return httpx.Response(
            403, json={"errors": [{"code": "DENIED", "message": "requested access is denied"}]}
        )

    client = mock_client(handler, "https://ghcr.io")
    async with client:
        with pytest.raises(UnauthorizedError, match="DENIED: requested access is denied"):
            await client.get_manifest("owner/private", "latest")


# -- distribution v3 (and Harbor on it): pages ------------------------------------------------


async def test_v3_tag_pages_with_relative_links_and_clamped_n() -> None:
    """distribution v3 clamps ``n`` to ``tags.maxtags`` and links the next page relatively."""
    all_tags = [f"v{number:03d}" for number in range(7)]
    max_tags = 3
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        n = min(int(request.url.params.get("n", max_tags)), max_tags)
        last = request.url.params.get("last")
        rest = [tag for tag in all_tags if last is None or tag > last]
        page = rest[:n]
        headers = {}
        if len(rest) > n:
            headers["Link"] = f'</v2/demo/app/tags/list?last={page[-1]}&n={n}>; rel="next"'
        return httpx.Response(200, json={"name": "demo/app", "tags": page}, headers=headers)

    client = mock_client(handler, "http://127.0.0.1:5000", name="r")
    async with client:
        assert await client.list_tags("demo/app") == all_tags
    assert [(u.params.get("n"), u.params.get("last")) for u in seen] == [
        ("1000", None),
        ("3", "v002"),
        ("3", "v005"),
    ]
    assert all(u.host == "127.0.0.1" and u.port == 5000 for u in seen)
