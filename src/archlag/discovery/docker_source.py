"""The Docker source: the containers of a Docker or Podman host, read every
``discovery.interval`` through the Engine API (:mod:`~archlag.discovery.engine_api`).

A reading asks ``/info`` (the host's platform) and ``/containers/json`` (running containers;
created and exited ones too with ``include_stopped``), then, once per new container and image,
``/containers/{id}/json`` (``Config.Image``: the reference it was created from) and
``/images/{id}/json`` (``RepoDigests``, the image's platform), kept while they are listed: a
quiet reading costs two requests. A container runs on its image's platform (an image pulled for
another platform runs emulated), else the host's; ``diun.platform`` says otherwise. Its workload
is its Compose project and service when it has their labels, else its name.

If ``/info`` or the list cannot be had, the source is down and its last set kept; a container or
image that cannot be read fails alone (logged once while it stays so); one created from an image
ID names no repository and is one of those.
"""

from __future__ import annotations

import logging

import httpx

from archlag.config.settings import DockerDiscovery
from archlag.core.platforms import Platform
from archlag.discovery.engine_api import (
    EngineAnswerError,
    EngineClient,
    EngineError,
    object_path,
)
from archlag.discovery.engine_objects import (
    ContainerFacts,
    EngineObjectError,
    ImageFacts,
    ListedContainer,
    host_platform,
    inspected_container,
    inspected_image,
    listed_containers,
    repo_digest,
)
from archlag.discovery.interface import ItemProblems, Reading, Report, SourceUnavailable
from archlag.discovery.limits import MAX_CONTAINERS, MAX_ENGINE_BYTES, MAX_ENGINE_LIST_BYTES
from archlag.discovery.periodic import PolledSource
from archlag.discovery.selection import choose
from archlag.discovery.sighting import Sighting, SightingError, SourceName, sighting

log = logging.getLogger("archlag.discovery.docker")
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
_GONE = 404  # a container or image removed between the list and the look


class DockerSource:
    """The source (see the module's docstring); :meth:`read` is one reading."""

    name: SourceName = "docker"

    def __init__(
        self,
        settings: DockerDiscovery,
        *,
        interval: float = 60.0,
        watch_by_default: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings, self._interval = settings, interval
        self._watch_by_default, self._transport = watch_by_default, transport
        self._problems = ItemProblems(log, "docker")
        self._containers: dict[str, ContainerFacts] = {}
        self._images: dict[str, ImageFacts] = {}

    async def run(self, report: Report) -> None:
        async with EngineClient(self._settings.host, transport=self._transport) as engine:

            async def read() -> Reading:
                return await self.read(engine)

            await PolledSource("docker", read, self._interval).run(report)

    async def read(self, engine: EngineClient) -> Reading:
        """One reading.

        Raises:
            SourceUnavailable: ``/info`` or the container list cannot be had.
        """
        try:
            host = host_platform(await engine.get("/info", MAX_ENGINE_BYTES))
            params = {"all": "true"} if self._settings.include_stopped else {}
            listed, problems = listed_containers(
                await engine.get("/containers/json", MAX_ENGINE_LIST_BYTES, **params)
            )
        except (EngineError, EngineObjectError) as exc:
            raise SourceUnavailable(str(exc)) from None
        self._problems.begin()
        for item, reason in problems:
            self._problems.failed(item, reason)
        if len(listed) > MAX_CONTAINERS:
            self._problems.failed(
                "containers", f"more than {MAX_CONTAINERS}: the rest are left out"
            )
            listed = listed[:MAX_CONTAINERS]
        found = []
        for container in listed:
            seen = await self._sighting(engine, container, host)
            if seen is not None:
                found.append(seen)
        self._forget(listed)
        return Reading(tuple(found), self._problems.end())

    async def _sighting(
        self, engine: EngineClient, container: ListedContainer, host: Platform | None
    ) -> Sighting | None:
        item = f"{container.name} ({container.id[:12]})"
        try:
            facts = await self._container(engine, container.id)
            image = await self._image(engine, container.image_id)
        except EngineAnswerError as exc:
            if exc.status != _GONE:
                self._problems.failed(item, str(exc))
            return None
        except EngineObjectError as exc:
            self._problems.failed(item, str(exc))
            return None
        except EngineError as exc:  # the host went away in the middle of the reading
            raise SourceUnavailable(str(exc)) from None
        choice = choose(facts.labels, watch_by_default=self._watch_by_default)
        if choice.problem:
            self._problems.failed(item, choice.problem)
        if not choice.watched:
            return None
        project, service = facts.labels.get(COMPOSE_PROJECT), facts.labels.get(COMPOSE_SERVICE)
        try:
            return sighting(
                facts.reference, source="docker", container=container.name,
                workload=f"{project}/{service}" if project and service else container.name,
                instance=container.id[:12], platform=choice.platform or image.platform or host,
                digest=repo_digest(facts.reference, image.repo_digests),
            )  # fmt: skip
        except SightingError as exc:
            self._problems.failed(item, str(exc))
            return None

    async def _container(self, engine: EngineClient, container_id: str) -> ContainerFacts:
        if container_id not in self._containers:
            answer = await engine.get(object_path("containers", container_id), MAX_ENGINE_BYTES)
            self._containers[container_id] = inspected_container(answer)
        return self._containers[container_id]

    async def _image(self, engine: EngineClient, image_id: str) -> ImageFacts:
        if image_id not in self._images:
            answer = await engine.get(object_path("images", image_id), MAX_ENGINE_BYTES)
            self._images[image_id] = inspected_image(answer)
        return self._images[image_id]

    def _forget(self, listed: list[ListedContainer]) -> None:
        """Keep only what the list still names: the caches stay as large as the host."""
        ids, images = {c.id for c in listed}, {c.image_id for c in listed}
        self._containers = {k: v for k, v in self._containers.items() if k in ids}
        self._images = {k: v for k, v in self._images.items() if k in images}
