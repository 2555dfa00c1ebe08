"""Shared fixtures. Real servers live in tests/support; each test module asks for what it needs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer, RegistryServerError


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    """A real docker-registry 2.8.2 on a free loopback port, data under tmp_path."""
    server = RegistryServer(tmp_path / "registry")
    try:
        server.start()
    except RegistryServerError as error:
        # Fail, never skip: a missing registry must be visible in CI.
        pytest.fail(str(error), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pusher(registry: RegistryServer) -> Iterator[Pusher]:
    """A Pusher bound to the ``registry`` fixture."""
    with Pusher(registry.url) as client:
        yield client
