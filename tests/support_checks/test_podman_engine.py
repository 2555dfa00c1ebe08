"""The podman_engine fixture: the real Engine API answers through its socket, about containers
run from an image in the real test registry, as a Docker or Podman discovery source reads it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.podman_engine import PodmanEngine
from tests.support.pusher import ACCEPT_ALL_MANIFESTS
from tests.support.registry_server import RegistryServer

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
async def api(podman_engine: PodmanEngine) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(uds=str(podman_engine.socket))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://podman", timeout=10
    ) as client:
        yield client


async def get_json(api: httpx.AsyncClient, path: str, **params: str) -> Any:
    response = await api.get(path, params=params)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    return response.json()


async def test_engine_api_lists_running_and_created_containers_of_a_registry_image(
    podman_engine: PodmanEngine, registry: RegistryServer, api: httpx.AsyncClient
) -> None:
    reference = podman_engine.push_busybox(registry.host, "team/app", "1.0")
    running = podman_engine.run(reference, name="app", labels={"archlag.watch": "true"})
    created = podman_engine.create(reference, name="app-next")

    listed = await get_json(api, "/containers/json")
    assert [c["Id"] for c in listed] == [running]
    assert listed[0]["Image"] == reference
    assert listed[0]["Labels"]["archlag.watch"] == "true"
    everything = {c["Id"]: c["State"] for c in await get_json(api, "/containers/json", all="1")}
    assert everything == {running: "running", created: "created"}

    container = await get_json(api, f"/containers/{running}/json")
    assert container["Name"] == "/app"
    assert container["Config"]["Image"] == reference
    image = await get_json(api, f"/images/{container['Image']}/json")
    async with httpx.AsyncClient(base_url=registry.url) as client:
        manifest = await client.head(
            "/v2/team/app/manifests/1.0", headers={"Accept": ACCEPT_ALL_MANIFESTS}
        )
    digest = manifest.headers["Docker-Content-Digest"]
    assert f"{registry.host}/team/app@{digest}" in image["RepoDigests"]
    assert reference in image["RepoTags"]

    info = await get_json(api, "/info")
    assert info["ContainersRunning"] == 1
    assert info["OSType"] == "linux"


async def test_a_stopped_container_exits_at_once_and_stays_listed_as_exited(
    podman_engine: PodmanEngine, registry: RegistryServer, api: httpx.AsyncClient
) -> None:
    reference = podman_engine.push_busybox(registry.host, "team/app", "2.0")
    container = podman_engine.run(reference)
    podman_engine.stop(container)

    assert await get_json(api, "/containers/json") == []
    state = (await get_json(api, f"/containers/{container}/json"))["State"]
    assert state["Status"] == "exited"
    assert state["ExitCode"] == 0, "SIGTERM ends the busybox command, no SIGKILL needed"
