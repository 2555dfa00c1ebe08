"""What the Engine API's answers say, parsed into small values. Pure; nothing here raises but
:class:`EngineObjectError` (a container, an image or a list that is not the API's shape).

- :func:`listed_containers`: ``GET /containers/json``: ID, name, state, the image's ID;
- :func:`inspected_container`: ``GET /containers/{id}/json``: ``Config.Image`` (the reference
  the container was created from; ``Image`` is only an ID), labels;
- :func:`inspected_image`: ``GET /images/{id}/json``: ``RepoDigests``, the image's platform;
- :func:`host_platform`: ``GET /info``: ``OSType`` and ``Architecture`` (``uname -m``:
  ``x86_64``, ``aarch64``, ``armv7l``...) as archlag spells platforms;
- :func:`repo_digest`: the digest of ``RepoDigests`` that belongs to a reference's repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from archlag.core.names import is_digest
from archlag.core.platforms import Platform, PlatformError, parse_platform
from archlag.core.references import ImageReferenceError, parse_pinned_reference
from archlag.discovery.limits import MAX_TEXT
from archlag.discovery.selection import marks_of

_ID = re.compile(r"(?:sha256:)?[0-9a-f]{12,64}")
_UNAME = {
    "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"), "armv5tel": ("arm", "v5"),
    "armv8l": ("arm", "v7"), "i686": ("386", ""), "i586": ("386", ""),
}  # fmt: skip


class EngineObjectError(ValueError):
    """An answer that is not the Engine API's shape."""


@dataclass(frozen=True, slots=True)
class ListedContainer:
    id: str
    name: str
    image_id: str
    listed_image: str  # the reference as given, or an image ID once the tag moved elsewhere


@dataclass(frozen=True, slots=True)
class ContainerFacts:
    reference: str  # Config.Image
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImageFacts:
    repo_digests: tuple[str, ...] = ()
    platform: Platform | None = None


def listed_containers(answer: Any) -> tuple[list[ListedContainer], list[tuple[str, str]]]:
    """The containers of a list, and (item, reason) for each entry that is not one.

    Raises:
        EngineObjectError: the answer is not a list.
    """
    if not isinstance(answer, list):
        raise EngineObjectError("the container list is not a list")
    found, problems = [], []
    for index, entry in enumerate(answer):
        try:
            found.append(_listed(entry))
        except EngineObjectError as exc:
            problems.append((f"container #{index}", str(exc)))
    return found, problems


def _listed(entry: Any) -> ListedContainer:
    if not isinstance(entry, dict):
        raise EngineObjectError("not an object")
    container_id, names = entry.get("Id"), entry.get("Names")
    if not isinstance(container_id, str) or not _ID.fullmatch(container_id):
        raise EngineObjectError("Id is not a container ID")
    name = names[0] if isinstance(names, list) and names else None
    if not isinstance(name, str) or not 0 < len(name) <= MAX_TEXT or not name.isprintable():
        name = container_id[:12]
    image_id, listed = entry.get("ImageID"), entry.get("Image")
    if not isinstance(image_id, str) or not _ID.fullmatch(image_id):
        raise EngineObjectError("ImageID is not an image ID")
    return ListedContainer(container_id, name.lstrip("/"), image_id, str(listed or "")[:MAX_TEXT])


def inspected_container(answer: Any) -> ContainerFacts:
    """The reference a container was created from, and its labels.

    Raises:
        EngineObjectError: no ``Config.Image``.
    """
    config = answer.get("Config") if isinstance(answer, dict) else None
    if not isinstance(config, dict) or not isinstance(config.get("Image"), str):
        raise EngineObjectError("Config.Image is missing")
    return ContainerFacts(config["Image"], marks_of(config.get("Labels")))


def inspected_image(answer: Any) -> ImageFacts:
    """What an image says; parts that are not the API's shape are left out.

    Raises:
        EngineObjectError: the answer is not an object.
    """
    if not isinstance(answer, dict):
        raise EngineObjectError("the image is not an object")
    digests = answer.get("RepoDigests")
    listed = digests[:100] if isinstance(digests, list) else []
    repo_digests = tuple(entry for entry in listed if isinstance(entry, str))
    return ImageFacts(
        repo_digests,
        _platform(answer.get("Os"), answer.get("Architecture"), answer.get("Variant") or ""),
    )


def host_platform(answer: Any) -> Platform | None:
    """The host's platform from ``/info``, or None if it does not say."""
    if not isinstance(answer, dict):
        return None
    arch = answer.get("Architecture")
    if isinstance(arch, str) and arch in _UNAME:
        arch, variant = _UNAME[arch]
        return _platform(answer.get("OSType") or "linux", arch, variant)
    return _platform(answer.get("OSType") or "linux", arch, "")


def repo_digest(reference: str, repo_digests: tuple[str, ...]) -> str | None:
    """The digest in ``repo_digests`` (``repo@sha256:…``) of the reference's repository."""
    try:
        wanted = parse_pinned_reference(reference).image
    except ImageReferenceError:
        return None
    for entry in repo_digests:
        try:
            pinned = parse_pinned_reference(entry)
        except ImageReferenceError:
            continue
        same = (pinned.image.registry, pinned.image.repository) == (
            wanted.registry, wanted.repository,
        )  # fmt: skip
        if same and is_digest(pinned.digest):
            return pinned.digest
    return None


def _platform(os: object, arch: object, variant: object) -> Platform | None:
    parts = [os, arch, variant] if variant else [os, arch]
    if not all(isinstance(part, str) and 0 < len(part) <= 40 for part in parts):
        return None
    try:
        return parse_platform("/".join(str(part) for part in parts))
    except PlatformError:
        return None
