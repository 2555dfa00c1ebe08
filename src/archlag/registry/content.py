"""Which platforms a tag provides, read from its manifest (index, list or single image).

An OCI image index or Docker manifest list names one image manifest per platform. BuildKit
attestations (``unknown/unknown`` entries, ``vnd.docker.reference.type`` annotations, descriptors
with an ``artifactType``) and entries of unknown media types are skipped, nested indexes are
followed, and platforms are normalised with :func:`archlag.core.platforms.normalize`, so ``aarch64``
and ``arm64/v8`` are one platform. When the same platform appears twice the first entry wins;
so several ``windows/amd64`` entries differing only in ``os.version`` give one stable platform.
A tag that points straight at an image manifest has one platform, read from its config blob.

A tag keeps at most :data:`MAX_PLATFORMS` distinct platforms, the first ones in index order
(real images have tens; a hostile index had 10,002): the rest are dropped, counted in
``TagContent.platforms_dropped`` and in the client's ``platforms_per_index`` limit, and logged
once per fetch. Entries without a platform that come after the cap are not read at all.

With ``with_created`` the image config of every platform is read for its ``created`` time (a
build time, a hint only: reproducible builds set it to 1970 or 1980). That costs one manifest
GET (Docker Hub pull quota) and one blob GET per platform.

Everything read from the registry is untrusted: malformed JSON or wrong types raise
:class:`~archlag.registry.errors.BadResponseError`, never ``KeyError`` or ``TypeError``.
Well-formed manifests that cannot be read raise its subclass
:class:`~archlag.registry.errors.UnsupportedManifestError` with a bounded ``reason``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from archlag.core.names import is_digest, is_media_type
from archlag.core.platforms import Platform, normalize
from archlag.registry.client import RegistryClient
from archlag.registry.errors import BadResponseError, Where
from archlag.registry.manifests import IMAGE_TYPES, INDEX_TYPES, OCI_INDEX, OCI_MANIFEST

IMAGE_CONFIG_TYPES = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
MAX_INDEX_DEPTH = 3  # the top-level index is depth 0
MAX_CONFIG_BYTES = 4 << 20
MAX_CHILD_REQUESTS = 256  # manifests and configs fetched for one tag; bounds a hostile index
MAX_PLATFORMS = 64  # distinct platforms kept per tag; Docker's official images have about 10
ATTESTATION_ANNOTATION = "vnd.docker.reference.type"

_log = logging.getLogger(__name__)
_Json = dict[str, Any]
_PLATFORM_PART = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # bounded, label-safe values


@dataclass(frozen=True, slots=True)
class TagContent:
    digest: str  # digest of the manifest the tag points at
    media_type: str
    platforms: Mapping[Platform, str]  # platform -> that platform's image manifest digest
    # platform -> image config ``created`` as unix seconds (None if absent or unreadable);
    # empty unless fetched with ``with_created``
    created: Mapping[Platform, float | None] = field(default_factory=lambda: MappingProxyType({}))
    # platforms beyond the first MAX_PLATFORMS, not in ``platforms``; each index entry without
    # a platform that came after the cap counts as one, since it was not read
    platforms_dropped: int = 0


async def fetch_content(
    client: RegistryClient, repository: str, reference: str, *, with_created: bool = False
) -> TagContent:
    """Fetch the manifest a tag (or digest) points at and list the platforms it provides.

    Raises:
        UnsupportedManifestError: schema1, an unknown media type, indexes nested too deeply,
            or too many manifests to read.
        RegistryError: any failure talking to the registry, or malformed content
            (:class:`BadResponseError`).
    """
    reader = _Reader(client, repository, client.where(repository, reference))
    manifest = await client.get_manifest(repository, reference)
    document = reader.where.json_object(manifest.body, "manifest")
    media_type = _media_type(manifest.media_type, document, reader.where)
    found: dict[Platform, str] = {}
    if media_type in INDEX_TYPES:
        await reader.read_index(document, 0, found)
    elif media_type in IMAGE_TYPES:
        platform = await reader.image_platform(document, manifest.digest)
        if platform is not None:
            found[platform] = manifest.digest
    else:
        raise reader.where.unsupported(
            "unknown_media_type", f"unsupported manifest type {media_type!r}"
        )
    created: dict[Platform, float | None] = {}
    if with_created:
        created = {platform: await reader.created_of(digest) for platform, digest in found.items()}
    if reader.dropped:
        reader.where.hit("platforms_per_index")
        _log.warning(
            "platforms_capped registry=%s repository=%s reference=%s kept=%d dropped=%d",
            client.name,
            repository,
            reference,
            len(found),
            reader.dropped,
        )
    return TagContent(
        manifest.digest,
        media_type,
        MappingProxyType(found),
        MappingProxyType(created),
        reader.dropped,
    )


class _Reader:
    """Reads one tag's manifests, within a budget of registry requests."""

    def __init__(self, client: RegistryClient, repository: str, where: Where) -> None:
        self.client = client
        self.repository = repository
        self.where = where
        self._requests_left = MAX_CHILD_REQUESTS
        self._created: dict[str, float | None] = {}  # image manifest digest -> config created
        self._over_cap: set[Platform] = set()  # platforms dropped for MAX_PLATFORMS
        self._unread = 0  # entries without a platform not read because of MAX_PLATFORMS

    @property
    def dropped(self) -> int:
        """How many platforms :data:`MAX_PLATFORMS` kept out (see ``TagContent``)."""
        return len(self._over_cap) + self._unread

    def _drop(self, platform: Platform | None) -> None:
        if platform is None:
            self._unread += 1
        else:
            self._over_cap.add(platform)

    def _spend(self) -> None:
        if self._requests_left <= 0:
            raise self.where.unsupported(
                "too_many_children", "index needs too many requests to read"
            )
        self._requests_left -= 1

    async def read_index(self, index: _Json, depth: int, found: dict[Platform, str]) -> None:
        """Add the platforms of an index's entries to ``found`` (first entry wins)."""
        entries = index.get("manifests")
        if not isinstance(entries, list):
            raise self.where.error(BadResponseError, "index has no 'manifests' list")
        for entry in entries:
            descriptor = _descriptor(entry, self.where)
            if descriptor is None or _is_attestation(entry):
                continue
            media_type, digest = descriptor
            platform = platform_from(entry.get("platform"), self.where)
            if platform is not None and platform.is_unknown:
                continue
            if len(found) >= MAX_PLATFORMS and platform not in found:
                self._drop(platform)
                continue
            if media_type in INDEX_TYPES:
                if depth + 1 > MAX_INDEX_DEPTH:
                    raise self.where.unsupported("nested_too_deep", "indexes are nested too deeply")
                child = await self._child(digest, INDEX_TYPES)
                await self.read_index(child, depth + 1, found)
                continue
            if platform is None:  # no platform in the index: ask the image's config
                child = await self._child(digest, IMAGE_TYPES)
                platform = await self.image_platform(child, digest)
            if platform is not None and platform not in found:
                found[platform] = digest

    async def image_platform(self, manifest: _Json, digest: str) -> Platform | None:
        """The platform of an image manifest from its config, or None if it is not an image."""
        image_config = await self._image_config(manifest, digest)
        if image_config is None:
            return None
        platform = platform_from(
            {key: image_config.get(key) for key in ("os", "architecture", "variant")}, self.where
        )
        if platform is None:
            raise self.where.error(BadResponseError, "image config has no os/architecture")
        return None if platform.is_unknown else platform

    async def created_of(self, digest: str) -> float | None:
        """The config ``created`` time of the image manifest ``digest`` (read if need be)."""
        if digest not in self._created:
            await self._image_config(await self._child(digest, IMAGE_TYPES), digest)
        return self._created.get(digest)

    async def _image_config(self, manifest: _Json, digest: str) -> _Json | None:
        """The image config of a manifest, or None if it is an artifact, not an image."""
        if "artifactType" in manifest:
            return None
        config = manifest.get("config")
        if not isinstance(config, dict):
            raise self.where.error(BadResponseError, "image manifest has no 'config' object")
        media_type, config_digest = config.get("mediaType"), config.get("digest")
        if (
            not isinstance(media_type, str)
            or not isinstance(config_digest, str)
            or not is_digest(config_digest)
        ):
            raise self.where.error(BadResponseError, "image manifest has a malformed config")
        if media_type not in IMAGE_CONFIG_TYPES:
            return None  # an OCI artifact (e.g. empty config), not a runnable image
        self._spend()
        blob = await self.client.get_blob(
            self.repository, config_digest, max_bytes=MAX_CONFIG_BYTES
        )
        image_config = self.where.json_object(blob, "image config")
        created = image_config.get("created")
        self._created[digest] = parse_time(created) if isinstance(created, str) else None
        return image_config

    async def _child(self, digest: str, expected: frozenset[str]) -> _Json:
        self._spend()
        manifest = await self.client.get_manifest(self.repository, digest)
        document = self.where.json_object(manifest.body, "manifest")
        if _media_type(manifest.media_type, document, self.where) not in expected:
            raise self.where.error(
                BadResponseError, f"manifest {digest} is not of the type its index entry declares"
            )
        return document


def parse_time(text: str) -> float | None:
    """An RFC 3339 / ISO 8601 time as unix seconds (UTC if no offset), or None if unreadable."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.timestamp()
    except (OverflowError, OSError):
        return None


def _media_type(content_type: str, document: _Json, where: Where) -> str:
    """The manifest's media type: Content-Type, the body's ``mediaType``, or its shape."""
    declared = document.get("mediaType")
    if declared is not None and not (declared == "" or is_media_type(declared)):
        raise where.error(BadResponseError, "manifest has a mediaType that is not a media type")
    known = INDEX_TYPES | IMAGE_TYPES
    if content_type in known:
        if declared and declared != content_type:
            raise where.error(
                BadResponseError,
                f"manifest says mediaType {declared!r} but was served as {content_type!r}",
            )
        return content_type
    if declared:
        return str(declared)
    if "manifests" in document:
        return OCI_INDEX
    if "config" in document:
        return OCI_MANIFEST
    return content_type


def _descriptor(entry: object, where: Where) -> tuple[str, str] | None:
    """(mediaType, digest) of an index entry, or None if its media type is not one we read."""
    if not isinstance(entry, dict):
        raise where.error(BadResponseError, "index entry is not a JSON object")
    media_type, digest = entry.get("mediaType"), entry.get("digest")
    if not isinstance(media_type, str) or not isinstance(digest, str):
        raise where.error(BadResponseError, "index entry lacks a mediaType or digest string")
    if media_type not in INDEX_TYPES and media_type not in IMAGE_TYPES:
        return None
    if not is_digest(digest):
        raise where.error(BadResponseError, "index entry has a malformed digest")
    return media_type, digest


def _is_attestation(entry: _Json) -> bool:
    annotations = entry.get("annotations")
    return "artifactType" in entry or (
        isinstance(annotations, dict) and ATTESTATION_ANNOTATION in annotations
    )


def platform_from(value: object, where: Where) -> Platform | None:
    """A normalised platform from ``{"os", "architecture", "variant"}``; None if absent."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise where.error(BadResponseError, "platform is not a JSON object")
    os, architecture, variant = (value.get(k) for k in ("os", "architecture", "variant"))
    if os is None and architecture is None:
        return None
    if not isinstance(os, str) or not isinstance(architecture, str):
        raise where.error(BadResponseError, "platform lacks an os or architecture string")
    if variant is not None and not isinstance(variant, str):
        raise where.error(BadResponseError, "platform has a non-string variant")
    if not os.strip() or not architecture.strip():
        raise where.error(BadResponseError, "platform has an empty os or architecture")
    platform = normalize(os, architecture, variant or "")
    parts = (platform.os, platform.architecture) + ((platform.variant,) if platform.variant else ())
    if not all(_PLATFORM_PART.fullmatch(part) for part in parts):
        raise where.error(BadResponseError, "platform has an implausible os, arch or variant")
    return platform
