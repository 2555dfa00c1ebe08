"""Small manifest fixtures shared by the registry client tests, and a registry's answer with one."""

from __future__ import annotations

import hashlib
import json

import httpx

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
INDEX_BODY = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode()
INDEX_DIGEST = "sha256:" + hashlib.sha256(INDEX_BODY).hexdigest()


def manifest_ok(**headers: str) -> httpx.Response:
    """A registry's 200 for the index above, with its media type and digest (and ``headers``)."""
    headers |= {"Content-Type": OCI_INDEX, "Docker-Content-Digest": INDEX_DIGEST}
    return httpx.Response(200, content=INDEX_BODY, headers=headers)
