"""Discovery end to end: the real archlag finds what runs (a Compose file; pods on a fake API
server with an arm64 and an amd64 node), watches it with no ``watches:`` at all, and says per
platform whether the next release is out for it, as the real registry publishes it.

A release pushed amd64 first makes the arm64 workload ``waiting`` and the amd64 one
``available``; once arm64 is pushed both are ``available``; a workload that stops running leaves
after ``discovery.grace``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.support.archlag_process import ArchlagProcess, Scrape
from tests.support.asgi_server import serving
from tests.support.fake_kube import FakeKube
from tests.support.kube_cluster import kubeconfig
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.integration

REPOSITORY = "demo/app"
BOTH = ("linux/amd64", "linux/arm64")


def config(registry: RegistryServer, tmp_path: Path, **sources: Any) -> dict[str, Any]:
    return {
        "state_file": str(tmp_path / "state.db"),
        "registries": {registry.host: {"insecure": True}},
        "discovery": {
            "interval": "300ms",
            "grace": "2s",
            "defaults": {"interval": "300ms", "platforms": list(BOTH), "stall_after": "1h"},
            **sources,
        },
    }


def states(scrape: Scrape, registry: RegistryServer, tag: str) -> dict[str, str]:
    """Per platform that runs ``tag``, its update state."""
    found = scrape.series(
        "archlag_running_update_state", registry=registry.host, repository=REPOSITORY, tag=tag
    )
    return {
        dict(labels)["platform"]: dict(labels)["state"] for labels, value in found.items() if value
    }


def compose(folder: Path, registry: RegistryServer, *platforms: str) -> None:
    services = "".join(
        f"  app-{p.split('/')[1]}:\n    image: ${{REGISTRY:-{registry.host}}}/{REPOSITORY}:1.0\n"
        f"    platform: {p}\n"
        for p in platforms
    )
    (folder / "compose.yaml").write_text(f"services:\n{services}")


def test_a_compose_stack_is_watched_and_judged_per_platform(
    registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    pusher.publish(REPOSITORY, "1.0", *BOTH)
    stack = tmp_path / "stack"
    stack.mkdir()
    compose(stack, registry, *BOTH)
    settings = config(registry, tmp_path, files={"paths": [str(stack)]})
    with ArchlagProcess(tmp_path, settings) as archlag:
        archlag.wait_for(
            lambda s: states(s, registry, "1.0") == dict.fromkeys(BOTH, "current"),
            what="both platforms running 1.0, current",
        )
        scrape = archlag.scrape()
        containers = scrape.series("archlag_running_containers", source="files")
        assert sorted(containers.values()) == [1.0, 1.0], "one service per platform"
        assert scrape.value("archlag_discovery_up", source="files") == 1

        amd = pusher.push_image(REPOSITORY, "linux/amd64", seed="1.1")
        pusher.push_index(REPOSITORY, "1.1", [amd])
        archlag.wait_for(
            lambda s: (
                states(s, registry, "1.0") == {"linux/amd64": "available", "linux/arm64": "waiting"}
            ),
            what="1.1 out for amd64 only",
        )
        waiting = archlag.scrape().series(
            "archlag_running_update_waiting_since_timestamp_seconds", platform="linux/arm64"
        )
        assert len(waiting) == 1, "the arm64 workload says since when it waits"
        page = httpx.get(f"{archlag.url}/", timeout=10).text
        assert "What you run" in page
        assert "waiting for linux/arm64" in page
        running = httpx.get(f"{archlag.url}/api/v1/running", timeout=10).json()["running"]
        arm = next(e for e in running if e["platform"] == "linux/arm64")
        assert (arm["state"], arm["waiting_for"]) == ("waiting", "1.1")

        arm64 = pusher.push_image(REPOSITORY, "linux/arm64", seed="1.1")
        pusher.push_index(REPOSITORY, "1.1", [amd, arm64])
        archlag.wait_for(
            lambda s: states(s, registry, "1.0") == dict.fromkeys(BOTH, "available"),
            what="1.1 out for both",
        )

        compose(stack, registry, "linux/amd64")  # the arm64 service is gone
        archlag.wait_for(
            lambda s: list(states(s, registry, "1.0")) == ["linux/amd64"],
            timeout=20.0,
            what="the arm64 workload dropped after its grace",
        )
        log = archlag.log_path.read_text()
    assert "event=discovered_watches_changed" in log


@pytest.mark.anyio
async def test_pods_are_judged_per_node_platform_and_leave_after_grace(
    registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    pusher.publish(REPOSITORY, "1.0", *BOTH)
    amd = pusher.push_image(REPOSITORY, "linux/amd64", seed="2.0")
    pusher.push_index(REPOSITORY, "2.0", [amd])  # 2.0 is out for amd64 only
    kube = FakeKube()
    kube.node("arm-1", "arm64")
    kube.node("amd-1", "amd64")
    image = f"{registry.host}/{REPOSITORY}:1.0"
    for name, node in (("web-5f6d7c-aaaaa", "arm-1"), ("web-5f6d7c-bbbbb", "amd-1")):
        kube.pod("shop", name, {"web": image}, node=node, owner=("ReplicaSet", "web-5f6d7c"),
                 labels={"pod-template-hash": "5f6d7c"})  # fmt: skip
    kube.pod("shop", "opted-out", {"web": image}, node="arm-1",
             annotations={"archlag.io/watch": "false"})  # fmt: skip
    async with serving(kube.app, "127.0.0.1:0") as served:
        path = kubeconfig(tmp_path, served.url)
        settings = config(registry, tmp_path, kubernetes={"kubeconfig": str(path)})
        archlag = ArchlagProcess(tmp_path, settings)
        await anyio.to_thread.run_sync(archlag.start)
        try:

            def wait(condition: Any, what: str) -> Scrape:
                return archlag.wait_for(condition, timeout=30.0, what=what)

            scrape = await anyio.to_thread.run_sync(
                wait,
                lambda s: (
                    states(s, registry, "1.0")
                    == {"linux/amd64": "available", "linux/arm64": "waiting"}
                ),
                "the pods judged by their nodes' platforms",
            )
            containers = scrape.series("archlag_running_containers", source="kubernetes")
            assert sorted(containers.values()) == [1.0, 1.0], "the opted-out pod is not counted"
            kube.delete("pods", "shop/web-5f6d7c-aaaaa")  # the arm64 pod goes
            await anyio.to_thread.run_sync(
                wait,
                lambda s: list(states(s, registry, "1.0")) == ["linux/amd64"],
                "the deleted pod gone after its grace",
            )
        finally:
            await anyio.to_thread.run_sync(archlag.stop)
