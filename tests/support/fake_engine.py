"""A small fake of the Docker Engine API (and Podman's Docker-compatible service), shaped from
the Engine API reference: ``/_ping``, ``/info``, ``/containers/json`` (``all``),
``/containers/{id}/json``, ``/images/{id}/json``, each also under a ``/v1.xx`` prefix.

Used until the real ``podman system service`` fixture lands (tests/support/podman.py, another
branch); only what the discovery source reads is modelled. :meth:`FakeEngine.run` adds a
container from an image; ``answers`` replaces the answer to a path (hostile bodies, errors);
``requests`` records every path asked.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_VERSION = re.compile(r"/v1\.[0-9]{1,2}(?=/)")


def _id(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


@dataclass
class FakeContainer:
    id: str
    name: str
    config_image: str  # Config.Image: the reference it was created from
    image_id: str  # sha256:...
    listed_image: str  # Image in the list: the reference, or the ID once the tag moved
    state: str = "running"
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeEngine:
    os_type: str = "linux"
    architecture: str = "aarch64"  # /info, as uname -m says it
    containers: dict[str, FakeContainer] = field(default_factory=dict)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, Response] = field(default_factory=dict)  # path -> answer, first
    requests: list[str] = field(default_factory=list)

    def run(
        self,
        name: str,
        reference: str,
        *,
        platform: tuple[str, str, str] | None = ("linux", "arm64", ""),
        repo_digest: str | None = None,
        labels: dict[str, str] | None = None,
        state: str = "running",
    ) -> str:
        """A container ``name`` created from ``reference``; its image's platform and digest."""
        image_id = "sha256:" + _id("image", reference, str(platform))
        image: dict[str, Any] = {
            "Id": image_id, "RepoTags": [reference] if "@" not in reference else [],
            "RepoDigests": [repo_digest] if repo_digest else [],
        }  # fmt: skip
        if platform is not None:
            image |= {"Os": platform[0], "Architecture": platform[1]}
            image |= {"Variant": platform[2]} if platform[2] else {}
        self.images[image_id] = image
        container = FakeContainer(
            _id("container", name), name, reference, image_id, reference, state, labels or {}
        )
        self.containers[container.id] = container
        return container.id

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._answer)])

    async def _answer(self, request: Request) -> Response:
        path = _VERSION.sub("", request.url.path, count=1)
        self.requests.append(path)
        if path in self.answers:
            return self.answers[path]
        if path == "/_ping":
            return Response("OK", media_type="text/plain")
        if path == "/info":
            return _json({"OSType": self.os_type, "Architecture": self.architecture,
                          "OperatingSystem": "Debian GNU/Linux 12 (bookworm)"})  # fmt: skip
        if path == "/containers/json":
            every = request.query_params.get("all") in ("1", "true", "True")
            return _json([self._listed(c) for c in self.containers.values()
                          if every or c.state == "running"])  # fmt: skip
        return self._inspect(path)

    def _inspect(self, path: str) -> Response:
        """``/containers/{id}/json`` and ``/images/{id}/json``."""
        found: dict[str, Any] | None = None
        if (match := re.fullmatch(r"/containers/([^/]+)/json", path)) is not None:
            container = self.containers.get(match[1])
            found = self._inspected(container) if container else None
        elif (match := re.fullmatch(r"/images/([^/]+)/json", path)) is not None:
            found = self.images.get(match[1]) or self.images.get(f"sha256:{match[1]}")
        if found is None:
            return _json_status(404, {"message": f"No such object: {path[:80]}"})
        return _json(found)

    def _listed(self, container: FakeContainer) -> dict[str, Any]:
        return {
            "Id": container.id, "Names": [f"/{container.name}"], "Image": container.listed_image,
            "ImageID": container.image_id, "Command": "/entrypoint", "Created": 1700000000,
            "State": container.state, "Status": "Up 2 hours", "Ports": [],
            "Labels": container.labels,
        }  # fmt: skip

    def _inspected(self, container: FakeContainer) -> dict[str, Any]:
        return {
            "Id": container.id, "Name": f"/{container.name}", "Image": container.image_id,
            "State": {"Status": container.state, "Running": container.state == "running"},
            "Config": {"Image": container.config_image, "Labels": container.labels,
                       "Hostname": container.id[:12]},
        }  # fmt: skip


def _json(value: Any) -> Response:
    return Response(json.dumps(value), media_type="application/json")


def _json_status(status: int, value: Any) -> Response:
    return Response(json.dumps(value), status_code=status, media_type="application/json")
