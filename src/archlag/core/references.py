"""Image references, normalised the way Docker normalises them.

``gotify/server`` is ``docker.io/gotify/server``; ``nginx`` is ``docker.io/library/nginx``;
``ghcr.io/o/r`` is on ``ghcr.io``; a first component with a ``.`` or ``:`` or equal to
``localhost`` is a registry host (``127.0.0.1:5000/demo/app``). Every part is matched in full
(never with ``$``, which also matches before a trailing newline); tags follow
:func:`archlag.core.names.is_tag`.

:func:`parse_reference` names a repository (and a tag): what a watch is. What runs may also be
pinned to a digest (``nginx:1.27@sha256:…``, ``nginx@sha256:…``): :func:`parse_pinned_reference`
reads that form too. Both raise only :class:`ImageReferenceError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archlag.core.names import MAX_REPOSITORY_LENGTH, is_digest, is_tag

DOCKER_HUB = "docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_HUB_API = "registry-1.docker.io"
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*")
_HOST = re.compile(r"(?:\[[0-9a-fA-F:]{2,39}\]|[A-Za-z0-9.-]{1,253})(?::[0-9]{1,5})?")


class ImageReferenceError(ValueError):
    """Text that is not an image reference."""


@dataclass(frozen=True, slots=True, order=True)
class ImageReference:
    registry: str  # as users write it: docker.io, ghcr.io, 127.0.0.1:5000
    repository: str  # normalised path: library/nginx, gotify/server
    tag: str | None = None

    def __str__(self) -> str:
        base = f"{self.registry}/{self.repository}"
        return f"{base}:{self.tag}" if self.tag else base


def parse_reference(text: str, *, allow_tag: bool = True) -> ImageReference:
    """Parse ``[host[:port]/]path[:tag]``.

    Raises:
        ImageReferenceError: empty text, a digest reference, a bad host, path component or tag.
    """
    original = text
    text = text.strip()
    if not text:
        raise ImageReferenceError("empty image reference")
    if "@" in text:
        raise ImageReferenceError(f"{original!r}: name a repository, not a digest")
    registry = DOCKER_HUB
    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        registry, text = first, rest
        if not _HOST.fullmatch(registry):
            raise ImageReferenceError(f"{original!r}: {registry!r} is not a registry host")
    tag = None
    last_slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > last_slash:
        text, tag = text[:colon], text[colon + 1 :]
        if not allow_tag:
            raise ImageReferenceError(f"{original!r}: name a repository without a tag")
        if not is_tag(tag):
            raise ImageReferenceError(f"{original!r}: {tag!r} is not a valid tag")
    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in text:
            text = f"library/{text}"
    for component in text.split("/"):
        if not _COMPONENT.fullmatch(component):
            raise ImageReferenceError(
                f"{original!r}: {component!r} is not a valid repository path component "
                "(lower-case letters, digits and separators . _ __ -)"
            )
    if len(text) > MAX_REPOSITORY_LENGTH:
        raise ImageReferenceError(
            f"{original!r}: repository names are at most {MAX_REPOSITORY_LENGTH} characters"
        )
    return ImageReference(registry, text, tag)


@dataclass(frozen=True, slots=True)
class PinnedReference:
    """An image as a container runtime takes it: a repository, a tag, a digest, or both."""

    image: ImageReference  # the tag, if the text named one
    digest: str | None = None  # sha256:... or sha512:..., if the text named one

    def __str__(self) -> str:
        return f"{self.image}@{self.digest}" if self.digest else str(self.image)


def parse_pinned_reference(text: str) -> PinnedReference:
    """Parse ``[host[:port]/]path[:tag][@digest]``, the references pods and containers run.

    The tag is left None when the text names none (a runtime would pull ``latest`` unless a
    digest is given: that choice is the caller's).

    Raises:
        ImageReferenceError: what :func:`parse_reference` refuses, more than one ``@``, or a
            digest that is not ``sha256:`` or ``sha512:`` with lower-case hex.
    """
    name, at, digest = text.strip().partition("@")
    if not at:
        return PinnedReference(parse_reference(name))
    if not is_digest(digest):
        raise ImageReferenceError(
            f"{text[:300]!r}: {digest[:80]!r} is not a sha256: or sha512: digest"
        )
    return PinnedReference(parse_reference(name), digest)


def api_base_url(registry: str, *, insecure: bool = False) -> str:
    """The base URL of the registry's API (``docker.io`` is served by ``registry-1.docker.io``)."""
    host = _HUB_API if registry == DOCKER_HUB else registry
    return f"{'http' if insecure else 'https'}://{host}"
