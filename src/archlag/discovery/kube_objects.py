"""Pods and nodes as the API server sends them, parsed into what discovery keeps. Pure.

- :func:`pod_facts`: a pod's containers and init containers (``spec``: name, image; the digest
  from ``status.*ContainerStatuses[].imageID`` when it names the same repository), its node, its
  labels and annotations, and its workload: the controller of its ``ownerReferences``; a
  ReplicaSet with the ``pod-template-hash`` label is its Deployment's (the ReplicaSet is named
  ``<deployment>-<hash>``), a Job named ``<cronjob>-<minutes>`` is its CronJob's (as the CronJob
  controller names them): no API call, no RBAC beyond pods and nodes.
- :func:`node_platform`: ``kubernetes.io/os`` and ``kubernetes.io/arch`` labels, else
  ``status.nodeInfo`` (``operatingSystem``, ``architecture``).

Both raise only :class:`KubeObjectError`, for an object that is not the API's shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from archlag.core.platforms import Platform, PlatformError, parse_platform
from archlag.core.references import ImageReferenceError, parse_pinned_reference
from archlag.discovery.limits import MAX_CONTAINERS_PER_POD, MAX_TEXT
from archlag.discovery.selection import marks_of

_FINISHED = frozenset({"Succeeded", "Failed"})  # pods that run nothing any more
_CRONJOB_JOB = re.compile(r"(.+)-[0-9]{8,12}")  # <cronjob>-<scheduled time in minutes>
_RUNTIME_PREFIXES = ("docker-pullable://", "docker://", "containerd://", "cri-o://")
ARCH_LABELS = ("kubernetes.io/arch", "beta.kubernetes.io/arch")
OS_LABELS = ("kubernetes.io/os", "beta.kubernetes.io/os")


class KubeObjectError(ValueError):
    """A pod or node whose shape is not the API's."""


@dataclass(frozen=True, slots=True)
class PodImage:
    container: str
    reference: str  # spec's image, as written
    digest: str | None  # what the runtime pulled, when it says


@dataclass(frozen=True, slots=True)
class PodFacts:
    uid: str
    namespace: str
    name: str
    workload: str  # namespace/Kind/name of its controller (namespace/Pod/name without one)
    node: str | None  # None until it is scheduled
    images: tuple[PodImage, ...]
    marks: dict[str, str] = field(default_factory=dict)
    finished: bool = False  # Succeeded or Failed: it runs nothing


def object_key(thing: Any) -> str:
    """The uid (pods) or name (nodes) an object is kept under.

    Raises:
        KubeObjectError: no ``metadata.uid`` nor ``metadata.name``.
    """
    metadata = thing.get("metadata") if isinstance(thing, dict) else None
    key = metadata.get("uid") or metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(key, str) or not key or len(key) > MAX_TEXT:
        raise KubeObjectError("the object has no metadata.uid or metadata.name")
    return key


def pod_facts(pod: Any) -> PodFacts:
    """What discovery keeps of a pod.

    Raises:
        KubeObjectError: no metadata, name, namespace or spec, too many containers, or a
            container without a name or an image.
    """
    metadata = _mapping(pod, "metadata")
    spec = _mapping(pod, "spec")
    status = pod.get("status") if isinstance(pod.get("status"), dict) else {}
    name, namespace = _text(metadata, "name"), _text(metadata, "namespace")
    pulled = _pulled(status)
    images = []
    for kind in ("initContainers", "containers"):
        containers = spec.get(kind) or []
        if not isinstance(containers, list) or len(containers) > MAX_CONTAINERS_PER_POD:
            raise KubeObjectError(f"spec.{kind} is not a list of at most {MAX_CONTAINERS_PER_POD}")
        for container in containers:
            if not isinstance(container, dict):
                raise KubeObjectError(f"an item of spec.{kind} is not an object")
            container_name, image = _text(container, "name"), _text(container, "image")
            images.append(
                PodImage(container_name, image, _digest(image, pulled.get(container_name)))
            )
    node = spec.get("nodeName")
    return PodFacts(
        object_key(pod), namespace, name, f"{namespace}/{_controller(metadata, name)}",
        node if isinstance(node, str) and node else None, tuple(images),
        marks_of(metadata.get("labels"), metadata.get("annotations")),
        status.get("phase") in _FINISHED,
    )  # fmt: skip


def node_platform(node: Any) -> Platform | None:
    """The platform a node runs, or None if it does not say.

    Raises:
        KubeObjectError: no metadata.
    """
    labels = _labels(_mapping(node, "metadata"))
    arch = next((labels[k] for k in ARCH_LABELS if isinstance(labels.get(k), str)), None)
    os = next((labels[k] for k in OS_LABELS if isinstance(labels.get(k), str)), None)
    if arch is not None:
        return platform_of(os or "linux", arch)
    status = node.get("status")
    info = status.get("nodeInfo") if isinstance(status, dict) else None
    if not isinstance(info, dict):
        return None
    return platform_of(info.get("operatingSystem") or "linux", info.get("architecture"))


def _controller(metadata: dict[str, Any], pod_name: str) -> str:
    """``Kind/name`` of the pod's controller; ``Pod/name`` when it has none."""
    owners = metadata.get("ownerReferences")
    owner = next(
        (o for o in owners if isinstance(o, dict) and o.get("controller") is True), None
    ) if isinstance(owners, list) else None  # fmt: skip
    kind = owner.get("kind") if owner else None
    name = owner.get("name") if owner else None
    if not isinstance(kind, str) or not isinstance(name, str) or not kind or not name:
        return f"Pod/{pod_name}"
    template_hash = _labels(metadata).get("pod-template-hash")
    if kind == "ReplicaSet" and template_hash and name.endswith(f"-{template_hash}"):
        return f"Deployment/{name.removesuffix(f'-{template_hash}')}"
    if kind == "Job" and (match := _CRONJOB_JOB.fullmatch(name)) is not None:
        return f"CronJob/{match[1]}"
    return f"{kind[:100]}/{name[: MAX_TEXT // 2]}"


def _pulled(status: dict[str, Any]) -> dict[str, str]:
    """``imageID`` per container name, from the container statuses."""
    found: dict[str, str] = {}
    for kind in ("initContainerStatuses", "containerStatuses"):
        statuses = status.get(kind)
        for entry in statuses[:MAX_CONTAINERS_PER_POD] if isinstance(statuses, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                image_id = entry.get("imageID")
                if isinstance(image_id, str) and len(image_id) <= MAX_TEXT:
                    found[entry["name"]] = image_id
    return found


def _digest(reference: str, image_id: str | None) -> str | None:
    """The digest of ``image_id`` (``repo@sha256:…``, maybe ``docker-pullable://``) when it is
    of the same repository as ``reference``."""
    if not image_id:
        return None
    for prefix in _RUNTIME_PREFIXES:
        image_id = image_id.removeprefix(prefix)
    try:
        pulled, wanted = parse_pinned_reference(image_id), parse_pinned_reference(reference)
    except ImageReferenceError:
        return None
    same = (pulled.image.registry, pulled.image.repository) == (
        wanted.image.registry, wanted.image.repository,
    )  # fmt: skip
    return pulled.digest if same else None


def _labels(metadata: dict[str, Any]) -> dict[str, str]:
    labels = metadata.get("labels")
    if not isinstance(labels, dict):
        return {}
    return {k: v for k, v in labels.items() if isinstance(k, str) and isinstance(v, str)}


def _mapping(thing: Any, key: str) -> dict[str, Any]:
    value = thing.get(key) if isinstance(thing, dict) else None
    if not isinstance(value, dict):
        raise KubeObjectError(f"{key} is missing")
    return value


def _text(thing: dict[str, Any], key: str) -> str:
    value = thing.get(key)
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise KubeObjectError(f"{key} is missing or longer than {MAX_TEXT}")
    return value


def platform_of(os: object, arch: object) -> Platform | None:
    """The platform of a node's (or selector's) os and architecture; None if they are not."""
    if not isinstance(os, str) or not isinstance(arch, str) or len(os) + len(arch) > 100:
        return None
    try:
        return parse_platform(f"{os}/{arch}")
    except PlatformError:
        return None
