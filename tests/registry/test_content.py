"""Which platforms a tag provides, from indexes, manifest lists and single image manifests.

What is refused, and the caps on what is read, are in test_content_limits.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from archlag.core.platforms import Platform
from archlag.registry import fetch_content
from tests.support.manifest_registry import (
    ATTESTATION,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    EMPTY,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    ManifestRegistry,
    digest_of,
    entry,
    image_manifest,
    index,
)

pytestmark = pytest.mark.anyio

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")
ARMV7 = Platform("linux", "arm", "v7")


async def test_buildkit_index_is_normalised_and_attestations_skipped() -> None:
    registry = ManifestRegistry()
    amd64 = registry.add_image("linux", "amd64")
    aarch64 = registry.add_image("linux", "aarch64")
    arm64_v8 = registry.add_image("linux", "arm64", "v8")
    arm = registry.add_image("linux", "arm")
    attestation = registry.add_manifest(image_manifest(EMPTY, registry.add_blob({})), OCI_MANIFEST)
    top = registry.add_manifest(
        index(
            entry(amd64, {"os": "linux", "architecture": "amd64"}),
            entry(aarch64, {"os": "linux", "architecture": "aarch64"}),
            entry(arm64_v8, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
            entry(arm, {"os": "linux", "architecture": "arm"}),
            entry(
                attestation,
                {"os": "unknown", "architecture": "unknown"},
                annotations={
                    "vnd.docker.reference.type": "attestation-manifest",
                    "vnd.docker.reference.digest": amd64,
                },
            ),
            entry(
                attestation,
                {"os": "linux", "architecture": "mips64le"},
                annotations={"vnd.docker.reference.type": "something-else"},
            ),
            entry(attestation, {"os": "linux", "architecture": "s390x"}, artifactType=ATTESTATION),
            entry(attestation, {"os": "unknown", "architecture": "unknown"}),
            entry(
                attestation,
                {"os": "linux", "architecture": "ppc64le"},
                "application/vnd.example.unknown+json",
            ),
        ),
        OCI_INDEX,
        tag="1.0",
    )
    content = await registry.fetch()
    assert content.digest == top
    assert content.media_type == OCI_INDEX
    assert dict(content.platforms) == {AMD64: amd64, ARM64: aarch64, ARMV7: arm}
    assert registry.paths == ["/v2/demo/app/manifests/1.0"]  # platforms come from the index alone


async def test_docker_manifest_list() -> None:
    registry = ManifestRegistry()
    amd64 = registry.add_image("linux", "amd64", docker=True)
    ppc = registry.add_image("linux", "ppc64le", docker=True)
    windows = registry.add_image("windows", "amd64", docker=True)
    registry.add_manifest(
        index(
            entry(amd64, {"os": "linux", "architecture": "amd64"}, DOCKER_MANIFEST),
            entry(ppc, {"os": "linux", "architecture": "ppc64le"}, DOCKER_MANIFEST),
            entry(
                windows,
                {"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.1"},
                DOCKER_MANIFEST,
            ),
            media_type=DOCKER_LIST,
        ),
        DOCKER_LIST,
        tag="1.0",
    )
    content = await registry.fetch()
    assert content.media_type == DOCKER_LIST
    assert dict(content.platforms) == {
        AMD64: amd64,
        Platform("linux", "ppc64le"): ppc,
        Platform("windows", "amd64"): windows,
    }


async def test_nested_index_is_followed_and_first_platform_wins() -> None:
    registry = ManifestRegistry()
    amd64 = registry.add_image("linux", "amd64")
    arm64 = registry.add_image("linux", "arm64")
    other_amd64 = registry.add_image("linux", "x86_64")
    inner = registry.add_manifest(
        index(
            entry(arm64, {"os": "linux", "architecture": "arm64"}),
            entry(other_amd64, {"os": "linux", "architecture": "x86_64"}),
        ),
        OCI_INDEX,
    )
    registry.add_manifest(
        index(
            entry(amd64, {"os": "linux", "architecture": "amd64"}),
            entry(inner, media_type=OCI_INDEX),
        ),
        OCI_INDEX,
        tag="1.0",
    )
    content = await registry.fetch()
    assert dict(content.platforms) == {AMD64: amd64, ARM64: arm64}


async def test_entry_without_platform_is_read_through_its_config() -> None:
    registry = ManifestRegistry()
    arm64 = registry.add_image("linux", "arm64", "v8")
    artifact = registry.add_manifest(image_manifest(EMPTY, registry.add_blob({})), OCI_MANIFEST)
    registry.add_manifest(index(entry(arm64), entry(artifact)), OCI_INDEX, tag="1.0")
    content = await registry.fetch()
    assert dict(content.platforms) == {ARM64: arm64}


@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker-schema2"])
async def test_single_platform_manifest_is_read_through_its_config_blob(docker: bool) -> None:
    registry = ManifestRegistry()
    image = registry.add_image("linux", "arm", "v6", docker=docker)
    registry.manifests["1.0"] = registry.manifests[image]
    content = await registry.fetch()
    assert content.digest == image
    assert content.media_type == (DOCKER_MANIFEST if docker else OCI_MANIFEST)
    assert dict(content.platforms) == {Platform("linux", "arm", "v6"): image}
    assert any(path.startswith("/v2/demo/app/blobs/sha256:") for path in registry.paths)


@pytest.mark.parametrize(
    "manifest",
    [
        pytest.param(image_manifest(EMPTY, digest_of(b"{}")), id="empty-config"),
        pytest.param(
            image_manifest(OCI_CONFIG, digest_of(b"{}")) | {"artifactType": ATTESTATION},
            id="artifact-type",
        ),
    ],
)
async def test_oci_artifact_has_no_platforms(manifest: dict[str, Any]) -> None:
    registry = ManifestRegistry()
    registry.add_manifest(manifest, OCI_MANIFEST, tag="1.0")
    content = await registry.fetch()
    assert dict(content.platforms) == {}
    assert not any("/blobs/" in path for path in registry.paths)


async def test_fetch_by_digest() -> None:
    registry = ManifestRegistry()
    image = registry.add_image("linux", "riscv64")
    content = await registry.fetch(image)
    assert dict(content.platforms) == {Platform("linux", "riscv64"): image}


# -- Windows ------------------------------------------------------------------------------------


async def test_windows_entries_differing_only_in_os_version_keep_the_first_stably() -> None:
    registry = ManifestRegistry()
    ltsc2019 = registry.add_image("windows", "amd64", docker=True)
    ltsc2022 = registry.add_image("windows", "AMD64", docker=True)
    linux = registry.add_image("linux", "amd64", docker=True)
    windows = {"os": "windows", "architecture": "amd64"}
    registry.add_manifest(
        index(
            entry(ltsc2019, windows | {"os.version": "10.0.17763.5936"}, DOCKER_MANIFEST),
            entry(
                ltsc2022,
                windows | {"os.version": "10.0.20348.2527", "os.features": ["win32k"]},
                DOCKER_MANIFEST,
            ),
            entry(linux, {"os": "linux", "architecture": "amd64"}, DOCKER_MANIFEST),
            media_type=DOCKER_LIST,
        ),
        DOCKER_LIST,
        tag="1.0",
    )
    first = await registry.fetch()
    again = await registry.fetch()
    assert dict(first.platforms) == {Platform("windows", "amd64"): ltsc2019, AMD64: linux}
    assert dict(again.platforms) == dict(first.platforms)  # no flapping between polls


# -- created times ----------------------------------------------------------------------------


async def test_with_created_reads_each_platforms_config_created_time() -> None:
    registry = ManifestRegistry()
    amd64 = registry.add_image("linux", "amd64", created="2024-01-02T03:04:05Z")
    arm64 = registry.add_image("linux", "arm64", created="2024-01-02T05:04:05.123456789+02:00")
    epoch = registry.add_image("linux", "s390x", created="1970-01-01T00:00:00Z")
    unset = registry.add_image("linux", "ppc64le")
    garbage = registry.add_image("linux", "riscv64", created="yesterday")
    registry.add_manifest(
        index(
            entry(amd64, {"os": "linux", "architecture": "amd64"}),
            entry(arm64, {"os": "linux", "architecture": "arm64"}),
            entry(epoch, {"os": "linux", "architecture": "s390x"}),
            entry(unset, {"os": "linux", "architecture": "ppc64le"}),
            entry(garbage),  # no platform in the index: its config is read once, for both
        ),
        OCI_INDEX,
        tag="1.0",
    )
    plain = await registry.fetch()
    assert dict(plain.created) == {}
    registry.paths.clear()

    client = registry.client()
    async with client:
        content = await fetch_content(client, "demo/app", "1.0", with_created=True)
    assert dict(content.created) == {
        AMD64: 1704164645.0,
        ARM64: pytest.approx(1704164645.123456),
        Platform("linux", "s390x"): 0.0,  # reproducible builds: a hint, reported as it is
        Platform("linux", "ppc64le"): None,
        Platform("linux", "riscv64"): None,
    }
    blob_reads = [p for p in registry.paths if "/blobs/" in p]
    assert len(blob_reads) == 5  # one config per platform, none twice
    assert client.status().quota_requests == 6  # the index and one manifest per platform


async def test_with_created_on_a_single_platform_image_reuses_its_config() -> None:
    registry = ManifestRegistry()
    image = registry.add_image("linux", "arm", "v7", created="2023-06-01T00:00:00Z")
    registry.manifests["1.0"] = registry.manifests[image]
    client = registry.client()
    async with client:
        content = await fetch_content(client, "demo/app", "1.0", with_created=True)
    assert dict(content.created) == {ARMV7: 1685577600.0}
    assert len([p for p in registry.paths if "/blobs/" in p]) == 1
