"""Small manifest fixtures shared by the registry client tests."""

from __future__ import annotations

import hashlib
import json

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
INDEX_BODY = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode()
INDEX_DIGEST = "sha256:" + hashlib.sha256(INDEX_BODY).hexdigest()
