"""The Kubernetes source: the pods of a cluster, watched, and the nodes they run on.

It reaches the API server as :mod:`~archlag.discovery.kube_access` says (the service account,
or ``discovery.kubernetes.kubeconfig``) and keeps pods and nodes with one
:class:`~archlag.discovery.kube_reflector.Reflector` each (``namespaces`` listed: one per
namespace; ``!name`` only: all namespaces, those left out). Every container and init container
of a pod that is not finished is a sighting, on its node's platform (``diun.platform`` says
otherwise; unknown until the pod is scheduled). A reading is published once every pod
reflector has listed, ``settle`` seconds after a change, so a burst of events costs one.

If every pod reflector fails (the API server is gone, RBAC refuses), the source is down with
the reason and its last set kept; one that fails among others, or a failing node reflector
(platforms unknown), is said in the reading's note while the rest goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import httpx

from archlag.config.settings import KubernetesDiscovery
from archlag.core.platforms import Platform
from archlag.discovery.interface import ItemProblems, Reading, Report
from archlag.discovery.kube_access import (
    SERVICE_ACCOUNT,
    KubeAccess,
    KubeAccessError,
    from_kubeconfig,
    in_cluster,
)
from archlag.discovery.kube_api import KubeClient
from archlag.discovery.kube_objects import KubeObjectError, PodFacts, node_platform, object_key
from archlag.discovery.kube_objects import pod_facts as parse_pod
from archlag.discovery.kube_reflector import Reflector
from archlag.discovery.limits import MAX_NODES, MAX_PODS, MAX_SIGHTINGS, RetryWaits
from archlag.discovery.selection import choose
from archlag.discovery.sighting import Sighting, SightingError, SourceName, sighting

log = logging.getLogger("archlag.discovery.kubernetes")
ALL_PODS = "/api/v1/pods"
NODES = "/api/v1/nodes"
KUBE_WAITS = RetryWaits(initial=1.0, cap=60.0)  # between failed lists and watches


class KubernetesSource:
    """The source (see the module's docstring)."""

    name: SourceName = "kubernetes"

    def __init__(
        self,
        settings: KubernetesDiscovery,
        *,
        watch_by_default: bool = True,
        environ: Mapping[str, str] | None = None,
        account: Path = SERVICE_ACCOUNT,
        waits: RetryWaits = KUBE_WAITS,
        settle: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings, self._watch_by_default = settings, watch_by_default
        self._environ = os.environ if environ is None else environ
        self._account, self._waits, self._settle = account, waits, settle
        self._transport = transport
        self._changed = anyio.Event()
        self._problems = ItemProblems(log, "kubernetes")

    async def run(self, report: Report) -> None:
        access = await self._access(report)
        async with KubeClient(access, transport=self._transport) as client:
            nodes = Reflector[Platform | None](
                client, NODES, node_platform, _node_name, self._notify, limit=MAX_NODES,
                waits=self._waits,
            )  # fmt: skip
            pods = [
                Reflector[PodFacts](client, path, parse_pod, object_key, self._notify,
                                    limit=MAX_PODS, waits=self._waits)
                for path in self.pod_paths()
            ]  # fmt: skip
            async with anyio.create_task_group() as group:
                group.start_soon(nodes.run)
                for reflector in pods:
                    group.start_soon(reflector.run)
                await self._publish_forever(report, nodes, pods)

    def _notify(self) -> None:
        self._changed.set()

    def pod_paths(self) -> list[str]:
        """What to list: every namespace, or each one named."""
        named = [n for n in self._settings.namespaces if not n.startswith("!")]
        return [f"/api/v1/namespaces/{n}/pods" for n in named] or [ALL_PODS]

    async def _access(self, report: Report) -> KubeAccess:
        failures = 0
        while True:
            try:
                if self._settings.kubeconfig is not None:
                    return from_kubeconfig(self._settings.kubeconfig)
                return in_cluster(self._environ, self._account)
            except KubeAccessError as exc:
                failures += 1
                report.down(str(exc))
                await anyio.sleep(self._waits.wait(failures))

    async def _publish_forever(
        self,
        report: Report,
        nodes: Reflector[Platform | None],
        pods: list[Reflector[PodFacts]],
    ) -> None:
        while True:
            await self._changed.wait()
            await anyio.sleep(self._settle)  # events of a burst are taken together
            self._changed = anyio.Event()
            failing = [r for r in pods if r.error is not None]
            if len(failing) == len(pods):
                report.down("; ".join(str(r.error) for r in failing))
            elif all(r.synced or r.error is not None for r in pods):
                report.publish(self.reading(nodes, pods))

    def reading(
        self, nodes: Reflector[Platform | None], pods: list[Reflector[PodFacts]]
    ) -> Reading:
        """The sightings of every pod the reflectors hold."""
        excluded = {n.removeprefix("!") for n in self._settings.namespaces if n.startswith("!")}
        found: list[Sighting] = []
        self._problems.begin()
        for pod in (p for r in pods for p in r.items.values()):
            if pod.finished or pod.namespace in excluded:
                continue
            choice = choose(pod.marks, watch_by_default=self._watch_by_default)
            if choice.problem:
                self._problems.failed(f"{pod.namespace}/{pod.name}", choice.problem)
            if not choice.watched:
                continue
            platform = choice.platform or (nodes.items.get(pod.node) if pod.node else None)
            for image in pod.images:
                try:
                    found.append(sighting(
                        image.reference, source="kubernetes", workload=pod.workload,
                        container=image.container, instance=f"{pod.namespace}/{pod.name}",
                        platform=platform, digest=image.digest,
                    ))  # fmt: skip
                except SightingError as exc:
                    item = f"{pod.namespace}/{pod.name}/{image.container}"
                    self._problems.failed(item, str(exc))
        notes = [f"{r.path}: {r.error}" for r in pods if r.error]
        if nodes.error:
            notes.append(f"nodes: {nodes.error} (platforms unknown)")
        left_out = [(nodes.path, nodes.left_out)] + [(r.path, r.left_out) for r in pods]
        notes += [f"{path}: {count} left out" for path, count in left_out if count]
        invalid = self._problems.end() + sum(len(r.invalid) for r in pods)
        return Reading(tuple(found[:MAX_SIGHTINGS]), invalid, "; ".join(notes))


def _node_name(node: Any) -> str:
    metadata = node.get("metadata") if isinstance(node, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        raise KubeObjectError("the node has no metadata.name")
    return name
