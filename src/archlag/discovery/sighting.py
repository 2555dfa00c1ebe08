"""One thing that runs: an image, the platform it runs on, and where it was seen.

:func:`sighting` builds a :class:`Sighting` from what a source read (a reference as written in a
pod, a container or a file) and raises only :class:`SightingError`: the reference is normalised
with archlag's rules (:func:`archlag.core.references.parse_pinned_reference`), a reference with
neither tag nor digest runs ``latest`` (as every runtime pulls it), and the names that say where
it runs are checked (printable, at most :data:`~archlag.discovery.limits.MAX_TEXT` characters),
so that every field is safe to show as a label or on a page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from archlag.core.names import is_digest
from archlag.core.platforms import Platform
from archlag.core.references import ImageReferenceError, parse_pinned_reference
from archlag.discovery.limits import MAX_TEXT

SourceName = Literal["kubernetes", "docker", "files"]
SOURCES: tuple[SourceName, ...] = ("kubernetes", "docker", "files")
DEFAULT_TAG = "latest"
# What Docker and Podman show for a container created from an image ID (Docker refuses
# repository names of 64 hex digits for this reason).
_IMAGE_ID = re.compile(r"(?:sha256:)?[0-9a-f]{64}")


class SightingError(ValueError):
    """What a source read is not a sighting: not an image reference, or an unusable name."""


@dataclass(frozen=True, slots=True)
class Sighting:
    """One container (or file service) running one image.

    ``workload`` is what runs it (``shop/Deployment/web``, a Compose project and service, a
    file), ``container`` the container's name in it, ``instance`` the one running copy (a pod, a
    container ID, a file and platform): two replicas of a workload are two sightings.
    """

    registry: str
    repository: str
    tag: str | None  # None: pinned by digest only
    digest: str | None  # sha256:..., when the reference or the runtime says
    platform: Platform | None  # None: not known (a pod not scheduled yet, a file that does not say)
    source: SourceName
    workload: str
    container: str
    instance: str

    @property
    def image(self) -> str:
        base = f"{self.registry}/{self.repository}"
        base += f":{self.tag}" if self.tag else ""
        return f"{base}@{self.digest}" if self.digest else base

    def sort_key(self) -> tuple[str, ...]:
        return (
            self.registry, self.repository, self.tag or "", self.digest or "",
            str(self.platform or ""), self.source, self.workload, self.container, self.instance,
        )  # fmt: skip


def sighting(
    reference: str,
    *,
    source: SourceName,
    workload: str,
    container: str,
    instance: str,
    platform: Platform | None,
    digest: str | None = None,
) -> Sighting:
    """The sighting of ``reference`` (``nginx``, ``ghcr.io/o/r:1.0@sha256:…``).

    ``digest`` is what the runtime says it pulled; a digest in the reference wins.

    Raises:
        SightingError: the reference is not one, or a name is empty, too long or not printable.
    """
    if not isinstance(reference, str) or len(reference) > MAX_TEXT:
        raise SightingError("the image is not a reference of at most 512 characters")
    if _IMAGE_ID.fullmatch(reference.strip()):
        raise SightingError("the image is named by its ID, not by a reference to a repository")
    try:
        pinned = parse_pinned_reference(reference)
    except ImageReferenceError as exc:
        raise SightingError(str(exc)) from None
    for what, text in (("workload", workload), ("container", container), ("instance", instance)):
        _check_name(what, text)
    image = pinned.image
    found = pinned.digest or (digest if is_digest(digest) else None)
    tag = image.tag or (None if pinned.digest else DEFAULT_TAG)
    return Sighting(
        image.registry, image.repository, tag, found, platform, source, workload, container,
        instance,
    )  # fmt: skip


def _check_name(what: str, text: str) -> None:
    if not isinstance(text, str) or not text or len(text) > MAX_TEXT or not text.isprintable():
        raise SightingError(f"the {what} name is empty, longer than {MAX_TEXT} or not printable")
