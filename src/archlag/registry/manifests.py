"""Manifest media types and digests: what the client asks for and checks, and what tag
content is read from. No I/O.

Errors: :func:`verify_digest` raises :class:`~archlag.registry.errors.BadResponseError`,
:func:`reject_schema1` its subclass
:class:`~archlag.registry.errors.UnsupportedManifestError`.
"""

from __future__ import annotations

import hashlib

from archlag.core.names import is_media_type
from archlag.registry import jsonbody
from archlag.registry.errors import BadResponseError, Where

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
SCHEMA1_MANIFEST = "application/vnd.docker.distribution.manifest.v1+json"
SCHEMA1_TYPES = frozenset(
    {SCHEMA1_MANIFEST, "application/vnd.docker.distribution.manifest.v1+prettyjws"}
)

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
# What the client's Accept header offers, in order of preference.
MANIFEST_ACCEPT: tuple[str, ...] = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)


def digest_of(algorithm: str, body: bytes) -> str:
    return f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"


def verify_digest(digest: str, body: bytes, where: Where, what: str) -> None:
    """Raise BadResponseError unless ``body`` hashes to ``digest`` (from :func:`is_digest`)."""
    if digest_of(digest.partition(":")[0], body) != digest:
        raise where.error(BadResponseError, f"{what} content does not match digest {digest}")


def manifest_media_type(content_type: str, body: bytes) -> str:
    """The Content-Type, or if it is not a manifest type, the body's own ``mediaType``."""
    if content_type in INDEX_TYPES | IMAGE_TYPES | SCHEMA1_TYPES:
        return content_type
    try:
        document = jsonbody.loads(body)
    except jsonbody.JsonBodyError:
        return content_type  # reading the body as a manifest will say what is wrong with it
    if isinstance(document, dict):
        declared = document.get("mediaType")
        if is_media_type(declared):
            return str(declared)
        if document.get("schemaVersion") == 1:
            return SCHEMA1_MANIFEST
    return content_type


def reject_schema1(media_type: str, where: Where, digest: str | None = None) -> None:
    """Refuse a Docker schema 1 manifest (``digest``: its digest, if known, for the error).

    Raises:
        UnsupportedManifestError: ``media_type`` is a schema 1 type (reason ``schema1``).
    """
    if media_type in SCHEMA1_TYPES:
        raise where.unsupported(
            "schema1",
            f"registry sent a Docker schema1 manifest ({media_type}), which is deprecated and "
            "unsupported (it has no platform list)",
            digest,
        )
