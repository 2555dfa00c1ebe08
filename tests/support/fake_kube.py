"""A fake Kubernetes API server for pods and nodes, shaped from the API reference (no API server
can run here): lists paginated with ``limit``/``continue``, watches streamed one JSON event per
line from a resourceVersion, bookmarks, ``410 Gone`` for a resourceVersion compacted away,
``401`` for a token it does not accept, ``403`` Status objects for what RBAC forbids.

The test changes the cluster with :meth:`FakeKube.node`, :meth:`FakeKube.pod`,
:meth:`FakeKube.delete`, sends :meth:`FakeKube.bookmark`, :meth:`FakeKube.compact`s the event
history, ends every open watch (:meth:`FakeKube.end_watches`) or writes raw lines into them
(:meth:`FakeKube.raw`); ``requests`` records each request (:class:`Asked`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

SERVICE_ACCOUNT = "system:serviceaccount:monitoring:archlag"
MAX_WATCH_SECONDS = 30.0  # a watch the test forgot ends by itself


@dataclass(frozen=True)
class Asked:
    """One request as the fake read it."""

    path: str
    watch: bool
    version: str | None  # resourceVersion
    following: str | None  # continue: a list's later page

    @property
    def first_page(self) -> bool:
        return not self.watch and self.following is None


@dataclass
class _Event:
    version: int
    resource: str  # pods or nodes
    line: bytes  # the event as sent
    namespace: str | None = None


@dataclass
class FakeKube:
    tokens: set[str] = field(default_factory=lambda: {"token-1"})
    forbidden: set[str] = field(default_factory=set)  # resources RBAC does not allow
    page_size_cap: int = 2  # items per page at most, whatever limit asks: pages get exercised
    objects: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {"pods": {}, "nodes": {}}
    )
    requests: list[Asked] = field(default_factory=list)
    _version: int = 100
    _events: list[_Event] = field(default_factory=list)
    _oldest: int = 100  # events after this are kept; older resourceVersions are Gone
    _wake: anyio.Event = field(default_factory=anyio.Event)
    _generation: int = 0  # end_watches() ends watches of older generations
    _uids: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/api/v1/nodes", self._serve),
            Route("/api/v1/pods", self._serve),
            Route("/api/v1/namespaces/{namespace}/pods", self._serve),
        ])  # fmt: skip

    # The cluster, as the test changes it.

    def node(self, name: str, arch: str, *, labels: bool = True, os: str = "linux") -> None:
        metadata: dict[str, Any] = {"name": name, "uid": self._uid()}
        if labels:
            metadata["labels"] = {"kubernetes.io/arch": arch, "kubernetes.io/os": os,
                                  "kubernetes.io/hostname": name}  # fmt: skip
        node = {"metadata": metadata, "spec": {},
                "status": {"nodeInfo": {"architecture": arch, "operatingSystem": os,
                                        "kubeletVersion": "v1.30.2"}}}  # fmt: skip
        self._put("nodes", name, node, None)

    def pod(
        self,
        namespace: str,
        name: str,
        images: dict[str, str],
        *,
        node: str | None = None,
        owner: tuple[str, str] | None = None,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        init: dict[str, str] | None = None,
        pulled: dict[str, str] | None = None,
        phase: str = "Running",
    ) -> None:
        """Add or change a pod; ``images``: container -> image, ``pulled``: container ->
        imageID, ``owner``: (kind, name) of its controller."""
        key = f"{namespace}/{name}"
        old = self.objects["pods"].get(key)
        metadata: dict[str, Any] = {
            "name": name, "namespace": namespace,
            "uid": old["metadata"]["uid"] if old else self._uid(),
            "labels": labels or {}, "annotations": annotations or {},
        }  # fmt: skip
        if owner:
            metadata["ownerReferences"] = [{
                "apiVersion": "apps/v1" if owner[0] != "Job" else "batch/v1", "kind": owner[0],
                "name": owner[1], "uid": self._uid(), "controller": True,
                "blockOwnerDeletion": True,
            }]  # fmt: skip
        spec: dict[str, Any] = {
            "containers": [{"name": c, "image": i} for c, i in images.items()],
        }
        if init:
            spec["initContainers"] = [{"name": c, "image": i} for c, i in init.items()]
        if node:
            spec["nodeName"] = node
        statuses = [{"name": c, "image": i, "imageID": (pulled or {}).get(c, ""), "ready": True}
                    for c, i in images.items()]  # fmt: skip
        status = {"phase": phase, "containerStatuses": statuses}
        self._put("pods", key, {"metadata": metadata, "spec": spec, "status": status}, namespace)

    def delete(self, resource: str, key: str) -> None:
        thing = self.objects[resource].pop(key)
        self._version += 1
        thing["metadata"]["resourceVersion"] = str(self._version)
        self._record(resource, "DELETED", thing, thing["metadata"].get("namespace"))

    def bookmark(self) -> None:
        """Every watch hears where the history is (no object changed)."""
        self._version += 1
        for resource in ("pods", "nodes"):
            marker = {"kind": "Pod" if resource == "pods" else "Node", "apiVersion": "v1",
                      "metadata": {"resourceVersion": str(self._version)}}  # fmt: skip
            self._events.append(_Event(self._version, resource,
                                       _line("BOOKMARK", marker), None))  # fmt: skip
        self._wake_watches()

    def compact(self) -> None:
        """Forget the history: a watch from an older resourceVersion is Gone."""
        self._oldest = self._version
        self._events = []

    def end_watches(self) -> None:
        self._generation += 1
        self._wake_watches()

    def raw(self, resource: str, line: bytes) -> None:
        """A line, as it is, to every watch of ``resource``."""
        self._version += 1
        self._events.append(_Event(self._version, resource, line.rstrip(b"\n") + b"\n"))
        self._wake_watches()

    # Serving.

    async def _serve(self, request: Request) -> Response:
        resource = "nodes" if request.url.path.endswith("/nodes") else "pods"
        namespace = request.path_params.get("namespace")
        watching = request.query_params.get("watch") in ("true", "1")
        version = request.query_params.get("resourceVersion")
        following = request.query_params.get("continue")
        self.requests.append(Asked(request.url.path, watching, version, following))
        auth = request.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return _status(401, "Unauthorized", "Unauthorized")
        if resource in self.forbidden:
            scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            verb = "watch" if watching else "list"
            message = (
                f'{resource} is forbidden: User "{SERVICE_ACCOUNT}" cannot {verb} resource '
                f'"{resource}" in API group "" {scope}'
            )
            return _status(403, "Forbidden", message)
        if watching:
            return StreamingResponse(
                self._watch(resource, namespace, int(version or self._version)),
                media_type="application/json",
            )
        return self._list(request, resource, namespace)

    def _list(self, request: Request, resource: str, namespace: str | None) -> Response:
        items = [
            thing
            for thing in self.objects[resource].values()
            if namespace is None or thing["metadata"].get("namespace") == namespace
        ]
        start = int(request.query_params.get("continue") or 0)
        size = min(int(request.query_params.get("limit") or 500), self.page_size_cap)
        metadata: dict[str, Any] = {"resourceVersion": str(self._version)}
        if start + size < len(items):
            metadata["continue"] = str(start + size)
        kind = "PodList" if resource == "pods" else "NodeList"
        body = {"kind": kind, "apiVersion": "v1", "metadata": metadata,
                "items": items[start : start + size]}  # fmt: skip
        return Response(json.dumps(body), media_type="application/json")

    async def _watch(
        self, resource: str, namespace: str | None, after: int
    ) -> AsyncIterator[bytes]:
        if after < self._oldest:
            message = f"too old resource version: {after} ({self._oldest})"
            yield _line("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                  "status": "Failure", "message": message, "reason": "Expired",
                                  "code": 410})  # fmt: skip
            return
        generation, sent = self._generation, after
        with anyio.move_on_after(MAX_WATCH_SECONDS):
            while generation == self._generation:
                for event in [e for e in self._events if e.version > sent]:
                    sent = event.version
                    if event.resource == resource and namespace in (None, event.namespace):
                        yield event.line
                wake = self._wake
                await wake.wait()

    def _put(self, resource: str, key: str, thing: dict[str, Any], namespace: str | None) -> None:
        kind = "MODIFIED" if key in self.objects[resource] else "ADDED"
        self._version += 1
        thing["metadata"]["resourceVersion"] = str(self._version)
        self.objects[resource][key] = thing
        self._record(resource, kind, thing, namespace)

    def _record(
        self, resource: str, kind: str, thing: dict[str, Any], namespace: str | None
    ) -> None:
        self._events.append(_Event(self._version, resource, _line(kind, thing), namespace))
        self._wake_watches()

    def _wake_watches(self) -> None:
        self._wake.set()
        self._wake = anyio.Event()

    def _uid(self) -> str:
        return f"00000000-0000-4000-8000-{next(self._uids):012d}"


def _line(kind: str, thing: dict[str, Any]) -> bytes:
    return json.dumps({"type": kind, "object": thing}).encode() + b"\n"


def _status(code: int, reason: str, message: str) -> Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}  # fmt: skip
    return Response(json.dumps(body), status_code=code, media_type="application/json")
