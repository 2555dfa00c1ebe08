"""Kubernetes manifests in a repository (a GitOps checkout): the images their pods would run.

:func:`manifest_images` reads YAML documents: ``Pod`` (``spec``), ``Deployment``,
``StatefulSet``, ``DaemonSet``, ``ReplicaSet``, ``Job`` (``spec.template.spec``), ``CronJob``
(``spec.jobTemplate.spec.template.spec``) and the ``items`` of a ``List``; every container and
init container. The platform is the pod's ``nodeSelector`` (``kubernetes.io/arch`` and
``kubernetes.io/os``) when it names one. Documents of other kinds, or that are not Kubernetes
objects at all, say nothing and are no problem; a workload of a known kind that is malformed is.
"""

from __future__ import annotations

from typing import Any

from archlag.core.platforms import Platform
from archlag.discovery.file_findings import FileFindings, FileImage
from archlag.discovery.kube_objects import ARCH_LABELS, OS_LABELS, platform_of
from archlag.discovery.limits import MAX_CONTAINERS_PER_POD, MAX_SERVICES, MAX_TEXT
from archlag.discovery.selection import marks_of

_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"), "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"), "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"), "CronJob": ("spec", "jobTemplate", "spec", "template"),
}  # fmt: skip


class _Malformed(ValueError):
    """A workload of a known kind whose shape is not Kubernetes'."""


def manifest_images(documents: list[Any]) -> FileFindings:
    """The images of every workload in ``documents``."""
    findings = FileFindings()
    objects = [d for d in documents if isinstance(d, dict)]
    for document in list(objects):
        if document.get("kind") == "List" and isinstance(document.get("items"), list):
            objects += [item for item in document["items"] if isinstance(item, dict)]
    kinds = [(o, o.get("kind")) for o in objects]
    workloads = [o for o, kind in kinds if isinstance(kind, str) and kind in _TEMPLATE_PATHS]
    if len(workloads) > MAX_SERVICES:
        findings.notes.append(f"more than {MAX_SERVICES} workloads: the rest are not read")
    for workload in workloads[:MAX_SERVICES]:
        name = _name(workload)
        try:
            findings.images += _workload_images(workload, name)
        except _Malformed as exc:
            findings.problem(name, str(exc))
    return findings


def _name(workload: dict[str, Any]) -> str:
    metadata = workload.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"{workload['kind']}/{str(name)[:MAX_TEXT] if name else '(no name)'}"


def _workload_images(workload: dict[str, Any], name: str) -> list[FileImage]:
    template: Any = workload
    for key in _TEMPLATE_PATHS[workload["kind"]]:
        template = template.get(key) if isinstance(template, dict) else None
    spec = template.get("spec") if isinstance(template, dict) else None
    if not isinstance(spec, dict):
        raise _Malformed("has no pod spec")
    marks = marks_of(*_marks(workload), *_marks(template))
    platform = _platform(spec.get("nodeSelector"))
    images = []
    for field in ("initContainers", "containers"):
        containers = spec.get(field) or []
        if not isinstance(containers, list) or len(containers) > MAX_CONTAINERS_PER_POD:
            raise _Malformed(f"{field} is not a list of at most {MAX_CONTAINERS_PER_POD}")
        for container in containers:
            if not isinstance(container, dict) or not isinstance(container.get("image"), str):
                raise _Malformed(f"a container of {field} has no image")
            label = str(container.get("name") or "(no name)")[:MAX_TEXT]
            images.append(FileImage(container["image"], name, label, platform, marks))
    return images


def _marks(thing: Any) -> tuple[object, object]:
    metadata = thing.get("metadata") if isinstance(thing, dict) else None
    if not isinstance(metadata, dict):
        return None, None
    return metadata.get("labels"), metadata.get("annotations")


def _platform(selector: object) -> Platform | None:
    """The platform a nodeSelector pins the pod to, if it names an architecture."""
    if not isinstance(selector, dict):
        return None
    arch = next((selector[k] for k in ARCH_LABELS if isinstance(selector.get(k), str)), None)
    os = next((selector[k] for k in OS_LABELS if isinstance(selector.get(k), str)), "linux")
    return platform_of(os, arch)
