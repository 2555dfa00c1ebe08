"""A registry behind a token server over MockTransport, for the authentication tests.

:class:`TokenRegistry` is shaped like Docker Hub (auth.docker.io) or ghcr.io: anonymous or
token-less requests meet ``HUB_CHALLENGE`` (or the challenge given), the token server issues
``token-1``, ``token-2``... and the registry records every request. ``CREDENTIALS`` hold a planted
Basic password (``BASIC`` is its header); :func:`echo` is a registry's error that repeats what it
was sent, for tests that no secret survives in an error.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from archlag.registry import BasicCredentials, RegistryClient, RetryPolicy, StaticCredentials
from archlag.secrets import Secret
from tests.support.manifests import manifest_ok
from tests.support.mock_registry import hub_client

HUB_CHALLENGE = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'
PASSWORD = "hunter2-planted-password"
USER = "alice"
CREDENTIALS = StaticCredentials(BasicCredentials(USER, Secret(PASSWORD)))
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def echo(status: int, *secrets: str) -> httpx.Response:
    message = "you sent " + " and ".join(secrets)
    return httpx.Response(status, json={"errors": [{"code": "DENIED", "message": message}]})


class TokenRegistry:
    """A registry behind a token server, like Docker Hub (auth.docker.io) or ghcr.io."""

    def __init__(
        self,
        challenge: str = HUB_CHALLENGE,
        *,
        auth_host: str = "auth.docker.io",
        token_body: dict[str, Any] | None = None,
    ) -> None:
        self.challenge = challenge
        self.auth_host = auth_host
        self.token_body = token_body or {}
        self.valid: set[str] = set()
        self.issued = 0
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    @property
    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == self.auth_host]

    @property
    def registry_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host != self.auth_host]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == self.auth_host:
            self.issued += 1
            token = f"token-{self.issued}"
            self.valid.add(token)
            return httpx.Response(200, json={"token": token, **self.token_body})
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.valid:
            return httpx.Response(
                401,
                headers={"WWW-Authenticate": self.challenge},
                json={"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
            )
        return manifest_ok()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def client(self, **kwargs: Any) -> RegistryClient:
        kwargs.setdefault("retry", RetryPolicy(jitter=0))
        return hub_client(self, sleep=self.sleep, **kwargs)
