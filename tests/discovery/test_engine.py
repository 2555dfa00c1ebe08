"""The runner: sources in one task group, a failing source leaves the others, reloads, grace."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

import anyio
import pytest

from archlag.config.settings import DiscoverySettings, DockerDiscovery, FilesDiscovery
from archlag.discovery import Discovery, DiscoverySnapshot, Reading, Report, SourceName
from archlag.discovery.catalogue import SourcePlan
from archlag.discovery.limits import RetryWaits
from archlag.discovery.sighting import sighting
from tests.support.log_lines import logged

pytestmark = pytest.mark.anyio
SETTINGS = DiscoverySettings(grace=3600.0, docker=DockerDiscovery(), files=FilesDiscovery())
QUICK = RetryWaits(initial=0.01, cap=0.05)


def found(reference: str, source: SourceName = "docker", name: str = "c") -> Reading:
    return Reading((sighting(reference, source=source, workload=name, container=name,
                             instance=name, platform=None),))  # fmt: skip


class Scripted:
    """A source that publishes what the test sends it, says down (a text) or raises."""

    def __init__(self, name: SourceName) -> None:
        self.name: SourceName = name
        self.builds = 0
        self._queue: deque[Reading | str | Exception] = deque()
        self._arrived = anyio.Event()

    def build(self) -> Scripted:
        self.builds += 1
        return self

    async def send(self, item: Reading | str | Exception) -> None:
        self._queue.append(item)
        self._arrived.set()

    async def run(self, report: Report) -> None:
        while True:
            while not self._queue:
                self._arrived = anyio.Event()
                await self._arrived.wait()
            item = self._queue.popleft()
            if isinstance(item, Exception):
                raise item
            if isinstance(item, str):
                report.down(item)
            else:
                report.publish(item)


class Harness:
    def __init__(self) -> None:
        self.sources = {"docker": Scripted("docker"), "files": Scripted("files")}
        self.changes: list[DiscoverySnapshot] = []
        self._changed = anyio.Event()

    def plan(self, settings: DiscoverySettings) -> dict[SourceName, SourcePlan]:
        keys = {"docker": settings.docker, "files": settings.files}
        return {
            name: SourcePlan((keys[name], settings.interval), self.sources[name].build)
            for name in ("docker", "files")
            if keys[name] is not None
        }

    def listener(self, snapshot: DiscoverySnapshot) -> None:
        self.changes.append(snapshot)
        self._changed.set()

    async def until(self, discovery: Discovery, done: Callable[[DiscoverySnapshot], bool]) -> None:
        with anyio.fail_after(10):
            while not done(discovery.snapshot()):
                self._changed = anyio.Event()
                await self._changed.wait()


@asynccontextmanager
async def running(
    harness: Harness, settings: DiscoverySettings = SETTINGS
) -> AsyncIterator[Discovery]:
    discovery = Discovery(settings, on_change=harness.listener, plan=harness.plan, restart=QUICK)
    async with anyio.create_task_group() as group:
        group.start_soon(discovery.run)
        yield discovery
        group.cancel_scope.cancel()


def repositories(snapshot: DiscoverySnapshot) -> list[str]:
    return [repository for _, repository in snapshot.repositories()]


def up(snapshot: DiscoverySnapshot) -> dict[str, bool]:
    return {status.name: status.up for status in snapshot.sources}


def all_up(snapshot: DiscoverySnapshot) -> bool:
    return len(snapshot.sources) == 2 and all(up(snapshot).values())


async def test_every_source_runs_and_every_change_is_told() -> None:
    harness = Harness()
    async with running(harness) as discovery:
        await harness.sources["docker"].send(found("gotify/server:2.6"))
        await harness.sources["files"].send(found("nginx:1.27", "files"))
        await harness.until(discovery, all_up)

        snapshot = discovery.snapshot()

    assert repositories(snapshot) == ["gotify/server", "library/nginx"]
    assert harness.changes[-1] == snapshot
    assert not harness.changes[0].sightings, "first told: both sources not read yet"


async def test_a_failing_source_is_down_and_started_again_the_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = Harness()
    async with running(harness) as discovery:
        docker, files = harness.sources["docker"], harness.sources["files"]
        await docker.send(found("gotify/server:2.6"))
        await files.send(found("nginx:1.27", "files"))
        await harness.until(discovery, all_up)
        await docker.send(RuntimeError("a bug"))
        await harness.until(discovery, lambda s: not up(s).get("docker", True))
        failed = discovery.snapshot()
        await docker.send(found("gotify/server:2.7"))
        await harness.until(discovery, lambda s: up(s).get("docker", False))

        recovered = discovery.snapshot()

    status = failed.source("docker")
    assert status is not None
    assert (status.reason, status.sightings) == ("the source failed: RuntimeError", 1)
    assert up(failed)["files"]
    assert repositories(failed) == ["gotify/server", "library/nginx"], "its last set is kept"
    assert docker.builds == 2
    assert [s.tag for s in recovered.sightings if s.source == "docker"] == ["2.7"]
    assert logged(caplog, "discovery_source_failed") == [
        {"source": "docker", "error": "RuntimeError: a bug"}
    ]


async def test_a_source_that_cannot_read_is_down_with_its_reason() -> None:
    harness = Harness()
    async with running(harness) as discovery:
        docker = harness.sources["docker"]
        await docker.send(found("gotify/server:2.6"))
        await harness.until(discovery, lambda s: up(s).get("docker", False))
        await docker.send("cannot reach unix:///run/docker.sock: connection refused")
        await harness.until(discovery, lambda s: not up(s).get("docker", True))

        snapshot = discovery.snapshot()

    status = snapshot.source("docker")
    assert status is not None
    assert status.reason == "cannot reach unix:///run/docker.sock: connection refused"
    assert repositories(snapshot) == ["gotify/server"]


async def test_a_reload_restarts_only_what_changed_and_removes_what_left() -> None:
    harness = Harness()
    async with running(harness) as discovery:
        docker, files = harness.sources["docker"], harness.sources["files"]
        await docker.send(found("gotify/server:2.6"))
        await files.send(found("nginx:1.27", "files"))
        await harness.until(discovery, all_up)

        discovery.reconfigure(replace(SETTINGS, files=None, grace=10.0))
        removed, builds = discovery.snapshot(), docker.builds
        discovery.reconfigure(replace(SETTINGS, docker=DockerDiscovery(include_stopped=True)))
        changed = discovery.snapshot()

    assert repositories(removed) == ["gotify/server"], "a removed source's images leave at once"
    assert builds == 1, "unchanged by the first reload"
    assert [s.name for s in changed.sources] == ["docker", "files"]
    assert repositories(changed) == ["gotify/server"], "a changed source keeps its last set"
    assert (docker.builds, files.builds) == (2, 2)


async def test_an_image_that_stopped_leaves_once_grace_ran_out() -> None:
    harness = Harness()
    async with running(harness, replace(SETTINGS, grace=0.2, files=None)) as discovery:
        docker = harness.sources["docker"]
        await docker.send(found("app:1.0"))
        await harness.until(discovery, lambda s: bool(s.images))
        await docker.send(Reading(()))
        await harness.until(discovery, lambda s: not s.images)

    lingering = [s for s in harness.changes if s.images and not s.sightings]
    assert [(i.containers, i.gone_since is not None) for i in lingering[0].images] == [(0, True)]


async def test_the_bound_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "archlag.discovery")
    harness = Harness()
    async with running(harness, replace(SETTINGS, max_images=1, files=None)) as discovery:
        docker = harness.sources["docker"]
        await docker.send(Reading(found("a/a").sightings + found("b/b").sightings))
        await harness.until(discovery, lambda s: s.refused_repositories == 1)
        await docker.send(Reading(found("a/a").sightings + found("c/c").sightings))
        await harness.until(discovery, lambda s: s.sightings[0].repository == "a/a" and
                            s.refused_repositories == 1 and len(s.images) == 1)  # fmt: skip

    assert logged(caplog, "discovery_images_over_bound") == [{"max_images": 1, "refused": 1}]
