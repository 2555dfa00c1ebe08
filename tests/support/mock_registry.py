"""Registry clients over ``httpx.MockTransport``: the setup every MockTransport test shares.

A test describes a registry as a handler (a function, or a fake registry's ``__call__``) that
answers each request; :func:`mock_client` builds the :class:`RegistryClient` that sends every
request to it, and passes its options (credentials, retry, clock, sleep...) on. The client is
named after the base URL's host and port unless ``name`` says otherwise; :func:`hub_client` is
the one named as archlag names Docker Hub's registry.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import httpx

from archlag.registry import RegistryClient

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
