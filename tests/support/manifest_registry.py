"""A registry of manifests and blobs over MockTransport, and the documents the content tests
put in it.

:class:`ManifestRegistry` serves manifests by tag or digest and blobs by digest, like
distribution 2.8.2, and records the paths asked for; :meth:`ManifestRegistry.fetch` reads a
tag's content through the real client. :func:`image_manifest`, :func:`entry` and :func:`index`
build the documents, with the media types named here.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

from archlag.registry import RegistryClient, RetryPolicy, fetch_content
from tests.support.manifests import OCI_INDEX
from tests.support.mock_registry import mock_client

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"
ATTESTATION = "application/vnd.docker.attestation.manifest.v1+json"


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


class ManifestRegistry:
    """Serves manifests by tag or digest and blobs by digest, like distribution 2.8.2."""

    def __init__(self) -> None:
        self.manifests: dict[str, tuple[str, bytes]] = {}
        self.blobs: dict[str, bytes] = {}
        self.paths: list[str] = []

    def add_blob(self, document: Any) -> str:
        body = json.dumps(document).encode()
        self.blobs[digest_of(body)] = body
        return digest_of(body)

    def add_manifest(self, document: Any, media_type: str, *, tag: str | None = None) -> str:
        body = json.dumps(document).encode()
        digest = digest_of(body)
        self.manifests[digest] = (media_type, body)
        if tag:
            self.manifests[tag] = (media_type, body)
        return digest

    def add_image(
        self,
        os: str,
        arch: str,
        variant: str = "",
        *,
        docker: bool = False,
        created: str | None = None,
    ) -> str:
        config: dict[str, str] = {"os": os, "architecture": arch}
        if variant:
            config["variant"] = variant
        if created is not None:
            config["created"] = created
        media_type, config_type = (
            (DOCKER_MANIFEST, DOCKER_CONFIG) if docker else (OCI_MANIFEST, OCI_CONFIG)
        )
        return self.add_manifest(
            image_manifest(config_type, self.add_blob(config), media_type), media_type
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        kind, _, key = request.url.path.removeprefix("/v2/demo/app/").partition("/")
        if kind == "manifests" and key in self.manifests:
            media_type, body = self.manifests[key]
            headers = {"Content-Type": media_type, "Docker-Content-Digest": digest_of(body)}
            return httpx.Response(200, content=body, headers=headers)
        if kind == "blobs" and key in self.blobs:
            return httpx.Response(200, content=self.blobs[key])
        return httpx.Response(
            404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "unknown"}]}
        )

    def client(self) -> RegistryClient:
        return mock_client(self, "http://127.0.0.1:5000", retry=RetryPolicy(attempts=1))

    async def fetch(self, reference: str = "1.0") -> Any:
        async with self.client() as client:
            return await fetch_content(client, "demo/app", reference)


def image_manifest(
    config_type: str, config_digest: str, media_type: str = OCI_MANIFEST
) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": config_digest, "size": 2},
        "layers": [],
    }


def entry(
    digest: str,
    platform: dict[str, str] | None = None,
    media_type: str = OCI_MANIFEST,
    **extra: Any,
) -> dict[str, Any]:
    described: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": 401}
    if platform is not None:
        described["platform"] = platform
    return described | extra


def index(*entries: dict[str, Any], media_type: str = OCI_INDEX) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": media_type, "manifests": list(entries)}
