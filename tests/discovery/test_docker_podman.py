"""The Docker source against the real Engine API: Debian's podman serving its
Docker-compatible API on a unix socket (tests/support/podman_engine.py), with containers run from
an image in the real test registry."""

from __future__ import annotations

import os

import pytest

from archlag.config.settings import DockerDiscovery
from archlag.core.platforms import normalize
from archlag.discovery.docker_source import DockerSource
from archlag.discovery.engine_api import EngineClient
from tests.support.podman_engine import PodmanEngine
from tests.support.registry_server import RegistryServer

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
HOST_PLATFORM = normalize("linux", os.uname().machine)


async def read(engine: PodmanEngine, *, include_stopped: bool = False) -> set[tuple[str, ...]]:
    settings = DockerDiscovery(engine.url, include_stopped=include_stopped)
    async with EngineClient(settings.host) as client:
        reading = await DockerSource(settings).read(client)
    return {
        (s.workload, s.registry, s.repository, s.tag or "", str(s.platform))
        for s in reading.sightings
    }


async def test_podman_s_containers_are_read_as_they_run(
    registry: RegistryServer, podman_engine: PodmanEngine
) -> None:
    reference = podman_engine.push_busybox(registry.host, "team/app", "1.0")
    podman_engine.run(reference, name="app-running")
    podman_engine.create(reference, name="app-created")
    podman_engine.run(reference, name="app-opted-out", labels={"archlag.io/watch": "false"})

    running = await read(podman_engine)
    every = await read(podman_engine, include_stopped=True)

    seen = ("app-running", registry.host, "team/app", "1.0", str(HOST_PLATFORM))
    assert running == {seen}, "the running container, on the host's platform; the opted-out not"
    assert every == {seen, ("app-created", *seen[1:])}, "a created one counts with the flag"
