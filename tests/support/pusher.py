"""A small synchronous pusher for building test images in a real registry.

It follows the OCI push flow: blobs first (``POST`` an upload, then ``PUT`` to the
returned ``Location`` with ``digest=``), then image manifests by digest, then an index
(or Docker manifest list) by tag. Content is tiny and deterministic: the same
platform, seed and ``created`` always give the same digest.

Errors:

    PushError    the registry answered something other than the expected status, or a
                 digest it reported differs from the one computed here
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
IN_TOTO_LAYER = "application/vnd.in-toto+json"

# Ask for every manifest type, or 2.8.2 answers a Docker list with its amd64 child.
ACCEPT_ALL_MANIFESTS = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])

ATTESTATION_PLATFORM = "unknown/unknown"
DEFAULT_CREATED = "2024-01-02T03:04:05Z"
_PROVENANCE_PREDICATE = "https://slsa.dev/provenance/v0.2"


class PushError(RuntimeError):
    """The registry refused a push step, or reported an unexpected digest."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    """What a test needs to reference a pushed manifest.

    ``platform`` is written the way the test wrote it ("linux/arm/v7", or raw spellings
    such as "linux/aarch64"); ``subject`` is set on attestations to the digest of the
    image manifest they describe.
    """

    media_type: str
    digest: str
    size: int
    platform: str | None = None
    subject: str | None = None


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def platform_object(platform: str) -> dict[str, str]:
    """Split "os/arch[/variant]" into an OCI ``platform`` object, keeping the spelling."""
    parts = platform.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"platform must look like os/arch or os/arch/variant: {platform!r}")
    result = {"architecture": parts[1], "os": parts[0]}
    if len(parts) == 3:
        result["variant"] = parts[2]
    return result


def compact_json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def tiny_layer(text: str) -> tuple[bytes, str]:
    """A gzipped tar with one small file; returns (blob, diff_id of the plain tar)."""
    payload = text.encode()
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("archlag-test.txt")
        info.size = len(payload)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(payload))
    plain = tar_buffer.getvalue()
    return gzip.compress(plain, mtime=0), sha256_digest(plain)


class Pusher:
    """Push tiny images, attestations, indexes and tags to a registry over plain HTTP."""

    def __init__(self, base_url: str, *, auth: tuple[str, str] | None = None) -> None:
        self._client = httpx.Client(base_url=base_url, auth=auth, timeout=10.0)

    def push_image(
        self,
        repository: str,
        platform: str,
        *,
        docker: bool = False,
        seed: str = "",
        created: str = DEFAULT_CREATED,
    ) -> Descriptor:
        """Push a config, one layer and the image manifest (by digest) for ``platform``."""
        layer, diff_id = tiny_layer(f"{platform} {seed}\n")
        config = {
            **platform_object(platform),
            "created": created,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
        return self._push_manifest(
            repository,
            docker=docker,
            config=compact_json(config),
            layers=[(layer, DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP, None)],
            platform=platform,
        )

    def push_attestation(self, repository: str, subject: Descriptor) -> Descriptor:
        """Push a BuildKit-style attestation manifest (one in-toto layer) by digest.

        The config is the dummy image config BuildKit writes without OCI artifact mode.
        """
        algorithm, _, hex_digest = subject.digest.partition(":")
        statement = {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": _PROVENANCE_PREDICATE,
            "subject": [{"name": f"pkg:docker/{repository}", "digest": {algorithm: hex_digest}}],
            "predicate": {"buildType": "https://mobyproject.org/buildkit@v1"},
        }
        layer = compact_json(statement)
        config = {
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer)]},
        }
        pushed = self._push_manifest(
            repository,
            docker=False,
            config=compact_json(config),
            layers=[(layer, IN_TOTO_LAYER, {"in-toto.io/predicate-type": _PROVENANCE_PREDICATE})],
            platform=ATTESTATION_PLATFORM,
        )
        return Descriptor(
            pushed.media_type, pushed.digest, pushed.size, pushed.platform, subject.digest
        )

    def push_index(
        self,
        repository: str,
        tag: str,
        children: Sequence[Descriptor],
        *,
        docker: bool = False,
        attestations: Sequence[Descriptor] = (),
        annotations: Mapping[str, str] | None = None,
    ) -> str:
        """Push an OCI index (or a Docker manifest list) by tag; return its digest.

        Children carry the ``platform`` of their descriptor (none when it is None);
        attestations come last, as BuildKit writes them.
        """
        entries = [self._index_entry(child) for child in children]
        for attestation in attestations:
            if attestation.subject is None:
                raise ValueError(f"attestation {attestation.digest} has no subject digest")
            entry = self._index_entry(attestation)
            entry["platform"] = platform_object(ATTESTATION_PLATFORM)
            entry["annotations"] = {
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": attestation.subject,
            }
            entries.append(entry)
        media_type = DOCKER_LIST if docker else OCI_INDEX
        index: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": entries,
        }
        if annotations:
            index["annotations"] = dict(annotations)
        return self._put_manifest(repository, tag, compact_json(index), media_type)

    def publish(
        self,
        repository: str,
        tag: str,
        *platforms: str,
        seed: str | None = None,
        attest: bool = False,
    ) -> str:
        """Release ``tag``: one image per platform (seeded with the tag unless ``seed`` is given),
        with a BuildKit attestation each if ``attest``, under an index pushed by tag; return the
        index's digest."""
        children = [
            self.push_image(repository, p, seed=tag if seed is None else seed) for p in platforms
        ]
        attestations = [self.push_attestation(repository, c) for c in children] if attest else []
        return self.push_index(repository, tag, children, attestations=attestations)

    def tag_manifest(self, repository: str, tag: str, descriptor: Descriptor) -> str:
        """Point ``tag`` straight at an image manifest (a single-platform tag)."""
        response = self._client.get(
            f"/v2/{repository}/manifests/{descriptor.digest}",
            headers={"Accept": descriptor.media_type},
        )
        self._expect(response, 200, f"fetch manifest {descriptor.digest}")
        return self._put_manifest(repository, tag, response.content, descriptor.media_type)

    def delete_tag(self, repository: str, tag: str) -> None:
        """Delete the manifest the tag points at.

        distribution 2.8.2 deletes manifests by digest only, and doing so also removes
        every other tag of the repository that points at the same digest. Children of
        an index and blobs stay in place.
        """
        response = self._client.head(
            f"/v2/{repository}/manifests/{tag}", headers={"Accept": ACCEPT_ALL_MANIFESTS}
        )
        self._expect(response, 200, f"resolve tag {repository}:{tag}")
        digest = response.headers["Docker-Content-Digest"]
        response = self._client.delete(f"/v2/{repository}/manifests/{digest}")
        self._expect(response, 202, f"delete manifest {digest}")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _push_manifest(
        self,
        repository: str,
        *,
        docker: bool,
        config: bytes,
        layers: Sequence[tuple[bytes, str, Mapping[str, str] | None]],
        platform: str,
    ) -> Descriptor:
        media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
        layer_descriptors = []
        for blob, layer_type, layer_annotations in layers:
            descriptor: dict[str, Any] = {
                "mediaType": layer_type,
                "digest": self._push_blob(repository, blob),
                "size": len(blob),
            }
            if layer_annotations:
                descriptor["annotations"] = dict(layer_annotations)
            layer_descriptors.append(descriptor)
        manifest = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                "digest": self._push_blob(repository, config),
                "size": len(config),
            },
            "layers": layer_descriptors,
        }
        body = compact_json(manifest)
        digest = sha256_digest(body)
        self._put_manifest(repository, digest, body, media_type)
        return Descriptor(media_type, digest, len(body), platform)

    def _push_blob(self, repository: str, blob: bytes) -> str:
        digest = sha256_digest(blob)
        response = self._client.post(f"/v2/{repository}/blobs/uploads/")
        self._expect(response, 202, f"start blob upload in {repository}")
        # The Location may be relative or absolute and may carry state in its query.
        location = str(response.url.join(response.headers["Location"]))
        separator = "&" if "?" in location else "?"
        response = self._client.put(
            f"{location}{separator}digest={digest}",
            content=blob,
            headers={"Content-Type": "application/octet-stream"},
        )
        self._expect(response, 201, f"upload blob {digest}")
        return digest

    def _put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        digest = sha256_digest(body)
        response = self._client.put(
            f"/v2/{repository}/manifests/{reference}",
            content=body,
            headers={"Content-Type": media_type},
        )
        self._expect(response, 201, f"put manifest {repository}:{reference}")
        reported = response.headers.get("Docker-Content-Digest")
        if reported != digest:
            raise PushError(f"registry reported digest {reported} for {digest}")
        return digest

    @staticmethod
    def _expect(response: httpx.Response, status: int, action: str) -> None:
        if response.status_code != status:
            raise PushError(
                f"{action}: expected {status}, got {response.status_code}: {response.text[:500]}"
            )

    @staticmethod
    def _index_entry(descriptor: Descriptor) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "mediaType": descriptor.media_type,
            "digest": descriptor.digest,
            "size": descriptor.size,
        }
        if descriptor.platform is not None:
            entry["platform"] = platform_object(descriptor.platform)
        return entry
