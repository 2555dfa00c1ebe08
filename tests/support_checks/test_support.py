"""The registry fixture and the pusher work against the real docker-registry 2.8.2.

Everything is checked with plain httpx requests, the way the exporter will see it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.pusher import (
    ACCEPT_ALL_MANIFESTS,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Pusher,
)
from tests.support.registry_server import (
    RegistryBinaryMissingError,
    RegistryServer,
    RegistryStartError,
)

pytestmark = pytest.mark.integration

REPO = "demo/app"


def get_manifest(
    registry: RegistryServer, reference: str, accept: str = ACCEPT_ALL_MANIFESTS
) -> httpx.Response:
    return httpx.get(f"{registry.url}/v2/{REPO}/manifests/{reference}", headers={"Accept": accept})


def body_digest(response: httpx.Response) -> str:
    return "sha256:" + hashlib.sha256(response.content).hexdigest()


def platforms_of(index: dict[str, Any]) -> list[dict[str, str]]:
    return [entry["platform"] for entry in index["manifests"]]


def config_of(registry: RegistryServer, manifest_digest: str, media_type: str) -> Any:
    manifest = get_manifest(registry, manifest_digest, accept=media_type).json()
    config_digest = manifest["config"]["digest"]
    return httpx.get(f"{registry.url}/v2/{REPO}/blobs/{config_digest}").json()


def test_registry_answers_the_version_check(registry: RegistryServer) -> None:
    response = httpx.get(f"{registry.url}/v2/")

    assert response.status_code == 200
    assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert registry.url == f"http://{registry.host}"
    assert registry.host.startswith("127.0.0.1:")


def test_oci_index_with_attestation(registry: RegistryServer, pusher: Pusher) -> None:
    amd64 = pusher.push_image(REPO, "linux/amd64")
    arm64 = pusher.push_image(REPO, "linux/arm64/v8")
    armv7 = pusher.push_image(REPO, "linux/arm/v7")
    attestation = pusher.push_attestation(REPO, amd64)

    digest = pusher.push_index(REPO, "1.0", [amd64, arm64, armv7], attestations=[attestation])

    response = get_manifest(registry, "1.0")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == OCI_INDEX
    assert response.headers["Docker-Content-Digest"] == digest == body_digest(response)
    index = response.json()
    assert platforms_of(index) == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
        {"architecture": "arm", "os": "linux", "variant": "v7"},
        {"architecture": "unknown", "os": "unknown"},
    ]
    assert [entry["digest"] for entry in index["manifests"]] == [
        amd64.digest,
        arm64.digest,
        armv7.digest,
        attestation.digest,
    ]
    assert index["manifests"][3]["annotations"] == {
        "vnd.docker.reference.type": "attestation-manifest",
        "vnd.docker.reference.digest": amd64.digest,
    }
    config = config_of(registry, armv7.digest, OCI_MANIFEST)
    assert (config["os"], config["architecture"], config["variant"]) == ("linux", "arm", "v7")
    assert config["created"] == "2024-01-02T03:04:05Z"


def test_attestation_is_an_in_toto_manifest(registry: RegistryServer, pusher: Pusher) -> None:
    image = pusher.push_image(REPO, "linux/amd64")
    attestation = pusher.push_attestation(REPO, image)

    response = get_manifest(registry, attestation.digest, accept=OCI_MANIFEST)

    assert response.status_code == 200
    assert body_digest(response) == attestation.digest
    assert attestation.size == len(response.content)
    layer = response.json()["layers"][0]
    assert layer["mediaType"] == "application/vnd.in-toto+json"
    statement = httpx.get(f"{registry.url}/v2/{REPO}/blobs/{layer['digest']}").json()
    assert statement["subject"][0]["digest"] == {"sha256": image.digest.removeprefix("sha256:")}


def test_docker_manifest_list_keeps_raw_platform_spellings(
    registry: RegistryServer, pusher: Pusher
) -> None:
    amd64 = pusher.push_image(REPO, "linux/x86_64", docker=True)
    arm64 = pusher.push_image(REPO, "linux/aarch64", docker=True)

    digest = pusher.push_index(REPO, "dl", [amd64, arm64], docker=True)

    response = get_manifest(registry, "dl")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == DOCKER_LIST
    assert response.headers["Docker-Content-Digest"] == digest == body_digest(response)
    manifest_list = response.json()
    assert platforms_of(manifest_list) == [
        {"architecture": "x86_64", "os": "linux"},
        {"architecture": "aarch64", "os": "linux"},
    ]
    assert {entry["mediaType"] for entry in manifest_list["manifests"]} == {DOCKER_MANIFEST}
    child = get_manifest(registry, arm64.digest)
    assert child.headers["Content-Type"] == DOCKER_MANIFEST
    assert body_digest(child) == arm64.digest
    assert config_of(registry, arm64.digest, DOCKER_MANIFEST)["architecture"] == "aarch64"


def test_single_platform_tag(registry: RegistryServer, pusher: Pusher) -> None:
    image = pusher.push_image(REPO, "linux/s390x")

    digest = pusher.tag_manifest(REPO, "single", image)

    response = get_manifest(registry, "single")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == OCI_MANIFEST
    assert response.headers["Docker-Content-Digest"] == digest == image.digest
    assert config_of(registry, digest, OCI_MANIFEST)["architecture"] == "s390x"


def test_seed_and_created_change_the_digest(pusher: Pusher) -> None:
    first = pusher.push_image(REPO, "linux/amd64")
    again = pusher.push_image(REPO, "linux/amd64")
    seeded = pusher.push_image(REPO, "linux/amd64", seed="rebuild")
    later = pusher.push_image(REPO, "linux/amd64", created="2025-06-07T08:09:10Z")

    assert first == again
    assert len({first.digest, seeded.digest, later.digest}) == 3


def test_delete_tag_removes_every_tag_of_that_digest(
    registry: RegistryServer, pusher: Pusher
) -> None:
    image = pusher.push_image(REPO, "linux/amd64")
    other = pusher.push_image(REPO, "linux/arm64")
    pusher.tag_manifest(REPO, "a", image)
    pusher.tag_manifest(REPO, "b", image)
    pusher.tag_manifest(REPO, "keep", other)

    pusher.delete_tag(REPO, "a")

    assert get_manifest(registry, "a").status_code == 404
    assert get_manifest(registry, "b").status_code == 404
    assert get_manifest(registry, "keep").status_code == 200
    tags = httpx.get(f"{registry.url}/v2/{REPO}/tags/list").json()["tags"]
    assert tags == ["keep"]


def test_stop_and_start_keep_port_and_data(registry: RegistryServer, pusher: Pusher) -> None:
    image = pusher.push_image(REPO, "linux/amd64")
    digest = pusher.push_index(REPO, "1.0", [image])
    url = registry.url

    registry.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v2/")
    registry.start()

    assert registry.url == url
    response = get_manifest(registry, "1.0")
    assert response.status_code == 200
    assert response.headers["Docker-Content-Digest"] == digest


def test_basic_auth(tmp_path: Path) -> None:
    with RegistryServer(tmp_path, users={"alice": "s3cret"}) as registry:
        challenge = httpx.get(f"{registry.url}/v2/")
        assert challenge.status_code == 401
        assert challenge.headers["WWW-Authenticate"] == 'Basic realm="archlag-test"'
        wrong = httpx.get(f"{registry.url}/v2/", auth=("alice", "nope"))
        assert wrong.status_code == 401

        with Pusher(registry.url, auth=("alice", "s3cret")) as pusher:
            digest = pusher.push_index(REPO, "1.0", [pusher.push_image(REPO, "linux/amd64")])

        response = httpx.get(
            f"{registry.url}/v2/{REPO}/manifests/1.0",
            headers={"Accept": OCI_INDEX},
            auth=("alice", "s3cret"),
        )
        assert response.headers["Docker-Content-Digest"] == digest
    assert not registry.running


def test_start_failure_reports_the_log(tmp_path: Path) -> None:
    server = RegistryServer(tmp_path, extra_config={"storage": {"nosuchdriver": {}}})

    with pytest.raises(RegistryStartError, match="log tail") as caught:
        server.start()

    assert "nosuchdriver" in str(caught.value)
    assert not server.running


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    server = RegistryServer(tmp_path, binary=str(tmp_path / "absent"))

    with pytest.raises(
        RegistryBinaryMissingError, match="install the Debian package docker-registry"
    ):
        server.start()


def test_index_annotations_are_kept(registry: RegistryServer, pusher: Pusher) -> None:
    image = pusher.push_image(REPO, "windows/amd64")
    created = {"org.opencontainers.image.created": "2024-01-02T03:04:05Z"}

    pusher.push_index(REPO, "win", [image], annotations=created)

    index = json.loads(get_manifest(registry, "win", accept=OCI_INDEX).content)
    assert index["annotations"] == created
    assert index["mediaType"] == OCI_INDEX
