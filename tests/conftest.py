"""Shared fixtures. Real servers live in tests/support; each test module asks for what it needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from archlag.store import SQLiteStore
from tests.support.podman import Podman, PodmanError, end_session, start_session
from tests.support.podman_engine import PodmanEngine
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer, RegistryServerError

# Property tests run on small, shared CI machines: no per-example deadline (timing is for
# benchmarks), and a fixed example count so that the suite's duration stays predictable.
settings.register_profile(
    "archlag", deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("archlag")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextmanager
def running_registry(workdir: Path, **options: Any) -> Iterator[RegistryServer]:
    """A started real docker-registry 2.8.2 (``users=`` turns on htpasswd Basic auth)."""
    server = RegistryServer(workdir, **options)
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
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    """A real docker-registry 2.8.2 on a free loopback port, data under tmp_path."""
    with running_registry(tmp_path / "registry") as server:
        yield server


@pytest.fixture
def pusher(registry: RegistryServer) -> Iterator[Pusher]:
    """A Pusher bound to the ``registry`` fixture."""
    with Pusher(registry.url) as client:
        yield client


@pytest.fixture(scope="session")
def podman() -> Iterator[Podman]:
    """podman and buildah over a store of this session's own (tests/support/podman.py), with
    the machine's image cache readable; removed with its containers at the end."""
    try:
        session = start_session()
    except PodmanError as error:
        pytest.fail(str(error), pytrace=False)  # never a skip: CI must see it
    try:
        yield session
    finally:
        end_session(session)


@pytest.fixture
def podman_engine(podman: Podman, tmp_path: Path) -> Iterator[PodmanEngine]:
    """Podman's Docker-compatible Engine API on ``tmp_path/podman.sock``, with helpers to push
    a runnable image to a test registry and run, create or stop containers of it; they are
    removed after the test."""
    engine = PodmanEngine(podman, tmp_path / "podman.sock", log=tmp_path / "podman-service.log")
    try:
        engine.start()
    except PodmanError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """A real SQLite state file under tmp_path."""
    opened = SQLiteStore(str(tmp_path / "state.db"))
    yield opened
    opened.close()


@pytest.fixture
def state_files(tmp_path: Path) -> Iterator[Callable[[str], SQLiteStore]]:
    """Opens more real state files under tmp_path by name (``state_files("old")``); all are
    closed after the test."""
    opened: list[SQLiteStore] = []

    def open_one(name: str) -> SQLiteStore:
        opened.append(SQLiteStore(str(tmp_path / f"{name}.db")))
        return opened[-1]

    yield open_one
    for one in opened:
        one.close()
