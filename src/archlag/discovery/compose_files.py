"""Compose files: the registry images their services run, and on what platform.

:func:`compose_images` reads a Compose document (as YAML values) with its variables (the
environment over the project's ``.env``, see :mod:`~archlag.discovery.compose_env`): per service
``image`` and ``platform`` (interpolated), ``labels`` (a map or a list of ``key=value``). A
service with ``build`` builds its image: its ``image``, if any, names the result, not a
registry image to watch, so it is left out. A service that cannot be read (a required variable
unset, a platform that is not one) is a problem of that service; the others are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archlag.core.platforms import PlatformError, parse_platform
from archlag.discovery.compose_env import InterpolationError, interpolate
from archlag.discovery.file_findings import FileFindings, FileImage
from archlag.discovery.limits import MAX_SERVICES, MAX_TEXT

COMPOSE_NAMES = frozenset(
    {"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}
)


def compose_images(document: Any, variables: Mapping[str, str]) -> FileFindings:
    """The images of a Compose document's services."""
    findings = FileFindings()
    if document is None:
        return findings
    if not isinstance(document, dict):
        findings.notes.append("not a Compose file: the document is not a mapping")
        return findings
    services = document.get("services") or {}
    if not isinstance(services, dict):
        findings.notes.append("services is not a mapping")
        return findings
    for index, (name, service) in enumerate(services.items()):
        if index >= MAX_SERVICES:
            findings.notes.append(f"more than {MAX_SERVICES} services: the rest are not read")
            break
        label = str(name)[:MAX_TEXT]
        try:
            image = _service(label, service, variables)
        except (InterpolationError, PlatformError, _ServiceError) as exc:
            findings.problem(label, str(exc))
            continue
        if image is not None:
            findings.images.append(image)
    return findings


class _ServiceError(ValueError):
    """A service whose shape is not Compose's."""


def _service(name: str, service: object, variables: Mapping[str, str]) -> FileImage | None:
    if not isinstance(service, dict):
        raise _ServiceError("the service is not a mapping")
    if "build" in service:
        return None  # built here: its image is the result, not a registry image to watch
    image = service.get("image")
    if image is None:
        raise _ServiceError("the service has neither image nor build")
    if not isinstance(image, str):
        raise _ServiceError("image is not a string")
    platform = None
    if (text := service.get("platform")) is not None:
        if not isinstance(text, str):
            raise _ServiceError("platform is not a string")
        platform = parse_platform(interpolate(text, variables))
    marks = _labels(service.get("labels"), variables)
    return FileImage(interpolate(image, variables), name, name, platform, marks)


def _labels(labels: object, variables: Mapping[str, str]) -> dict[str, str]:
    """Compose's labels, a map or a list of ``key=value``; other shapes have no labels."""
    pairs: list[tuple[str, object]] = []
    if isinstance(labels, dict):
        pairs = [(key, value) for key, value in labels.items() if isinstance(key, str)]
    elif isinstance(labels, list):
        for item in labels:
            if isinstance(item, str):
                name, _, text = item.partition("=")
                pairs.append((name, text))
    found: dict[str, str] = {}
    for key, value in pairs[:MAX_SERVICES]:
        if isinstance(value, bool):
            found[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            found[key] = interpolate(str(value), variables)
    return found
