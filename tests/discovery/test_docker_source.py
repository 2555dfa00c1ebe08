"""The Docker source against a fake Engine API on a unix socket (and tcp://), served for real:
the answers a real engine rarely gives (hostile, huge, broken, an arm64 host), shaped from the
Engine API reference (tests/support/fake_engine.py). The real podman is in test_docker_podman.py.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
from starlette.responses import Response

from archlag.config.settings import DiscoverySettings, DockerDiscovery
from archlag.core.platforms import parse_platform
from archlag.discovery import Discovery, DiscoverySnapshot, SourceUnavailable
from archlag.discovery.docker_source import DockerSource
from archlag.discovery.engine_api import EngineClient
from tests.support.asgi_server import Served, serving
from tests.support.fake_engine import FakeEngine
from tests.support.log_lines import logged

pytestmark = pytest.mark.anyio
AMD, ARM, V7 = (parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7"))
DIGEST = "sha256:" + "d" * 64


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A short folder: a unix socket's path must fit in 108 bytes."""
    folder = Path(tempfile.mkdtemp(prefix="engine-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def engine(socket_dir: Path) -> AsyncIterator[tuple[FakeEngine, Served]]:
    fake = FakeEngine()
    async with serving(fake.app, f"unix:{socket_dir / 'docker.sock'}") as served:
        yield fake, served


def host(served: Served) -> str:
    return "unix://" + served.bind.removeprefix("unix:")


async def read(served: Served, **options: object) -> tuple[DockerSource, list[tuple[object, ...]]]:
    settings = DockerDiscovery(host(served), **options)  # type: ignore[arg-type]
    source = DockerSource(settings)
    async with EngineClient(settings.host) as client:
        reading = await source.read(client)
    return source, sorted(
        (s.workload, s.container, s.image, str(s.platform)) for s in reading.sightings
    )


async def test_containers_give_their_reference_platform_and_digest(
    engine: tuple[FakeEngine, Served],
) -> None:
    fake, served = engine
    fake.run("gotify", "gotify/server:2.6", repo_digest=f"gotify/server@{DIGEST}",
             labels={COMPOSE_PROJECT: "home", COMPOSE_SERVICE: "gotify"})  # fmt: skip
    fake.run("emulated", "ghcr.io/o/tool:1", platform=("linux", "amd64", ""))
    fake.run("pinned", f"nginx@{DIGEST}", platform=None)
    fake.run("stopped", "busybox:1.36", state="exited")

    _, running = await read(served)
    _, every = await read(served, include_stopped=True)

    assert running == [
        ("emulated", "emulated", "ghcr.io/o/tool:1", "linux/amd64"),
        ("home/gotify", "gotify", f"docker.io/gotify/server:2.6@{DIGEST}", "linux/arm64"),
        ("pinned", "pinned", f"docker.io/library/nginx@{DIGEST}", "linux/arm64"),
    ], "an image without a platform runs on the host's (aarch64)"
    assert ("stopped", "stopped", "docker.io/library/busybox:1.36", "linux/arm64") in every


@pytest.mark.parametrize(
    ("architecture", "expected"), [("x86_64", AMD), ("aarch64", ARM), ("armv7l", V7)]
)
async def test_the_hosts_architecture_is_spelled_as_archlag_spells_platforms(
    socket_dir: Path, architecture: str, expected: object
) -> None:
    fake = FakeEngine(architecture=architecture)
    fake.run("app", "app:1", platform=None)
    async with serving(fake.app, f"unix:{socket_dir / 'docker.sock'}") as served:
        _, found = await read(served)

    assert found == [("app", "app", "docker.io/library/app:1", str(expected))]


async def test_a_quiet_reading_costs_two_requests(engine: tuple[FakeEngine, Served]) -> None:
    fake, served = engine
    fake.run("a", "a:1")
    fake.run("b", "b:1")
    source = DockerSource(DockerDiscovery(host(served)))
    async with EngineClient(host(served)) as client:
        await source.read(client)
        fake.requests.clear()
        await source.read(client)

    assert fake.requests == ["/info", "/containers/json"]


async def test_labels_opt_out_opt_in_and_name_the_platform(
    engine: tuple[FakeEngine, Served],
) -> None:
    fake, served = engine
    fake.run("out", "out:1", labels={"archlag.io/watch": "false"})
    fake.run("in", "in:1", labels={"diun.enable": "true", "diun.platform": "linux/arm/v7"})
    fake.run("plain", "plain:1")
    source = DockerSource(DockerDiscovery(host(served)), watch_by_default=False)
    async with EngineClient(host(served)) as client:
        reading = await source.read(client)

    assert [(s.container, s.platform) for s in reading.sightings] == [("in", V7)]


async def test_containers_that_cannot_be_read_fail_alone(
    engine: tuple[FakeEngine, Served], caplog: pytest.LogCaptureFixture
) -> None:
    fake, served = engine
    fake.run("good", "good:1")
    by_id = fake.run("by-id", "sha256:" + "e" * 64)
    huge = fake.run("huge", "huge:1")
    deep = fake.run("deep", "deep:1")
    gone = fake.run("gone", "gone:1")
    fake.answers[f"/containers/{huge}/json"] = Response(b"[" + b" " * (5 << 20) + b"]")
    fake.answers[f"/containers/{deep}/json"] = Response(b"[" * 100 + b"]" * 100)
    fake.answers[f"/containers/{gone}/json"] = Response(b'{"message": "gone"}', status_code=404)
    listed = [fake._listed(c) for c in fake.containers.values()]
    fake.answers["/containers/json"] = Response(json.dumps([*listed, {"Id": "../../etc"}, 7]))
    source = DockerSource(DockerDiscovery(host(served)))
    async with EngineClient(host(served)) as client:
        reading = await source.read(client)
        again = await source.read(client)

    assert [s.container for s in reading.sightings] == ["good"]
    assert reading.invalid == again.invalid == 5
    reasons = {str(f["item"]): str(f["reason"]) for f in logged(caplog, "discovery_item_failed")}
    assert len(reasons) == 5, "each once, not once per reading"
    assert reasons == {
        f"by-id ({by_id[:12]})": "the image is named by its ID, not by a reference to a repository",
        f"huge ({huge[:12]})": f"/containers/{huge}/json: the answer is larger than 4194304 bytes",
        f"deep ({deep[:12]})": f"/containers/{deep}/json: the answer is nested deeper than 64 "
        "levels",
        "container #5": "Id is not a container ID",
        "container #6": "not an object",
    }


async def test_a_host_that_answers_no_list_is_unavailable(
    engine: tuple[FakeEngine, Served],
) -> None:
    fake, served = engine
    fake.answers["/containers/json"] = Response(b'{"message": "page not found"}', 500)
    async with EngineClient(host(served)) as client:
        with pytest.raises(SourceUnavailable, match="/containers/json: HTTP 500: page not found"):
            await DockerSource(DockerDiscovery(host(served))).read(client)


async def test_tcp_hosts_work_too() -> None:
    fake = FakeEngine(architecture="x86_64")
    fake.run("app", "app:1", platform=None)
    async with serving(fake.app, "127.0.0.1:0") as served:
        settings = DockerDiscovery("tcp://" + served.bind)
        async with EngineClient(settings.host) as client:
            reading = await DockerSource(settings).read(client)

    assert [(s.repository, s.platform) for s in reading.sightings] == [("library/app", AMD)]


async def test_a_lost_socket_keeps_the_last_set_and_marks_the_source_down(
    engine: tuple[FakeEngine, Served],
) -> None:
    fake, served = engine
    fake.run("gotify", "gotify/server:2.6")
    settings = DiscoverySettings(interval=0.05, docker=DockerDiscovery(host(served)))
    changed = anyio.Event()

    def listener(snapshot: DiscoverySnapshot) -> None:
        changed.set()

    async def until(done: object) -> DiscoverySnapshot:
        nonlocal changed
        with anyio.fail_after(10):
            while not done(discovery.snapshot()):  # type: ignore[operator]
                await changed.wait()
                changed = anyio.Event()
        return discovery.snapshot()

    def docker_up(snapshot: DiscoverySnapshot) -> bool | None:
        status = snapshot.source("docker")
        return status.up if status and status.reason != "not read yet" else None

    discovery = Discovery(settings, on_change=listener)
    async with anyio.create_task_group() as group:
        group.start_soon(discovery.run)
        await until(lambda s: docker_up(s) is True)
        await served.stop()
        down = await until(lambda s: docker_up(s) is False)
        await served.start()
        await until(lambda s: docker_up(s) is True)
        group.cancel_scope.cancel()

    status = down.source("docker")
    assert status is not None
    assert status.reason.startswith(f"cannot reach {host(served)}: ConnectError")
    assert [s.repository for s in down.sightings] == ["gotify/server"], "the last set is kept"


COMPOSE_PROJECT, COMPOSE_SERVICE = "com.docker.compose.project", "com.docker.compose.service"
