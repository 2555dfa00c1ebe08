"""Registry clients over ``httpx.MockTransport``: the setup every MockTransport test shares.

A test describes a registry as a handler (a function, or a fake registry's ``__call__``) that
answers each request; :func:`mock_client` builds the :class:`RegistryClient` that sends every
request to it, and passes its options (credentials, retry, clock, sleep...) on. The client is
named after the base URL's host and port unless ``name`` says otherwise; :func:`hub_client` is
the one named as archlag names Docker Hub's registry. :func:`hub_api` and :func:`quay_api` do
the same for the clients of Docker Hub's and Quay's own APIs.

:class:`Recorder` wraps a handler to record requests, observer reports and sleeps, with time
simulated; :func:`sequence`, :func:`index_response` and :func:`oci_error` are answers the
client tests build handlers from.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import httpx

from archlag.registry import HubClient, QuayClient, RegistryClient, RetryPolicy
from tests.support.manifests import INDEX_BODY, INDEX_DIGEST, OCI_INDEX

Handler = (
    Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
)
REGISTRY = "https://registry.example"
DOCKER_HUB = "https://registry-1.docker.io"


def mock_client(
    handler: Handler, base: str = REGISTRY, *, name: str | None = None, **options: Any
) -> RegistryClient:
    """A client of the registry at ``base`` whose every request ``handler`` answers."""
    name = name if name is not None else httpx.URL(base).netloc.decode()
    return RegistryClient(name, base, transport=httpx.MockTransport(handler), **options)


def hub_client(handler: Handler, **options: Any) -> RegistryClient:
    """:func:`mock_client` for Docker Hub's registry: ``docker.io`` at registry-1.docker.io."""
    return mock_client(handler, DOCKER_HUB, name="docker.io", **options)


def hub_api(handler: Handler, **options: Any) -> HubClient:
    """A client of Docker Hub's API (hub.docker.com by default) whose every request ``handler``
    answers."""
    return HubClient(transport=httpx.MockTransport(handler), **options)


def quay_api(handler: Handler, **options: Any) -> QuayClient:
    """A client of Quay's API (quay.io by default) whose every request ``handler`` answers."""
    return QuayClient(transport=httpx.MockTransport(handler), **options)


class Recorder:
    """Records requests, observer reports and sleeps; wraps a handler. Time is simulated:
    sleeping advances the clock at once."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.reports: list[tuple[str, str, str, float]] = []
        self.sleeps: list[float] = []
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def request_finished(self, registry: str, method: str, result: str, seconds: float) -> None:
        self.reports.append((registry, method, result, seconds))

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def client(self, *, retry: RetryPolicy | None = None, **kwargs: Any) -> RegistryClient:
        kwargs.setdefault("clock", self.clock)
        return mock_client(
            self,
            REGISTRY,
            observer=self,
            sleep=self.sleep,
            retry=retry or RetryPolicy(jitter=0),
            **kwargs,
        )


def index_response(request: httpx.Request | None = None) -> httpx.Response:
    return httpx.Response(
        200,
        content=INDEX_BODY,
        headers={
            "Content-Type": f"{OCI_INDEX}; charset=utf-8",
            "Docker-Content-Digest": INDEX_DIGEST,
        },
    )


def oci_error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    body = {"errors": [{"code": code, "message": message}]}
    return httpx.Response(status, json=body, headers=headers)


def sequence(*responses: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    """A handler that answers with each response in turn, then repeats the last one."""
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handler
