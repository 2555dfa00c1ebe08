"""Which platforms a tag provides, from indexes, manifest lists and single image manifests."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import httpx
import pytest

from archlag.core.outcomes import UNSUPPORTED_REASONS
from archlag.core.platforms import Platform
from archlag.registry import (
    BadResponseError,
    RegistryClient,
    RetryPolicy,
    UnsupportedManifestError,
    fetch_content,
)
from archlag.registry.content import MAX_PLATFORMS
from tests.support.mock_registry import mock_client

pytestmark = pytest.mark.anyio

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"
ATTESTATION = "application/vnd.docker.attestation.manifest.v1+json"

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")
ARMV7 = Platform("linux", "arm", "v7")


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


class FakeRegistry:
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


async def test_buildkit_index_is_normalised_and_attestations_skipped() -> None:
    registry = FakeRegistry()
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
    registry = FakeRegistry()
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
    registry = FakeRegistry()
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


async def test_nesting_deeper_than_the_limit_is_refused() -> None:
    registry = FakeRegistry()
    current = registry.add_manifest(
        index(
            entry(registry.add_image("linux", "amd64"), {"os": "linux", "architecture": "amd64"})
        ),
        OCI_INDEX,
    )
    for _ in range(4):
        current = registry.add_manifest(index(entry(current, media_type=OCI_INDEX)), OCI_INDEX)
    registry.add_manifest(index(entry(current, media_type=OCI_INDEX)), OCI_INDEX, tag="1.0")
    with pytest.raises(BadResponseError, match="nested too deeply"):
        await registry.fetch()


async def test_entry_without_platform_is_read_through_its_config() -> None:
    registry = FakeRegistry()
    arm64 = registry.add_image("linux", "arm64", "v8")
    artifact = registry.add_manifest(image_manifest(EMPTY, registry.add_blob({})), OCI_MANIFEST)
    registry.add_manifest(index(entry(arm64), entry(artifact)), OCI_INDEX, tag="1.0")
    content = await registry.fetch()
    assert dict(content.platforms) == {ARM64: arm64}


@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker-schema2"])
async def test_single_platform_manifest_is_read_through_its_config_blob(docker: bool) -> None:
    registry = FakeRegistry()
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
    registry = FakeRegistry()
    registry.add_manifest(manifest, OCI_MANIFEST, tag="1.0")
    content = await registry.fetch()
    assert dict(content.platforms) == {}
    assert not any("/blobs/" in path for path in registry.paths)


async def test_fetch_by_digest() -> None:
    registry = FakeRegistry()
    image = registry.add_image("linux", "riscv64")
    content = await registry.fetch(image)
    assert dict(content.platforms) == {Platform("linux", "riscv64"): image}


@pytest.mark.parametrize(
    ("media_type", "body"),
    [
        pytest.param(OCI_INDEX, b"not json", id="not-json"),
        pytest.param(OCI_INDEX, b"[]", id="not-an-object"),
        pytest.param(
            OCI_INDEX, json.dumps({"manifests": {"a": 1}}).encode(), id="manifests-not-list"
        ),
        pytest.param(OCI_INDEX, json.dumps(index("entry")).encode(), id="entry-not-object"),
        pytest.param(
            OCI_INDEX, json.dumps(index({"mediaType": OCI_MANIFEST})).encode(), id="entry-no-digest"
        ),
        pytest.param(
            OCI_INDEX, json.dumps(index(entry("sha256:short", {}))).encode(), id="bad-digest"
        ),
        pytest.param(
            OCI_INDEX,
            json.dumps(index(entry(digest_of(b"x"), {"os": "linux"}))).encode(),
            id="no-arch",
        ),
        pytest.param(
            OCI_INDEX,
            json.dumps(index(entry(digest_of(b"x"), ["linux"]))).encode(),
            id="platform-list",
        ),
        pytest.param(
            OCI_INDEX,
            json.dumps(index(entry(digest_of(b"x"), {"os": "linux", "architecture": 64}))).encode(),
            id="arch-number",
        ),
        pytest.param(
            OCI_INDEX,
            json.dumps(
                index(
                    entry(digest_of(b"x"), {"os": "linux", "architecture": "amd64", "variant": 3})
                )
            ).encode(),
            id="variant-number",
        ),
        pytest.param(
            OCI_INDEX,
            json.dumps(
                index(entry(digest_of(b"x"), {"os": "linux", "architecture": "x\ny{}"}))
            ).encode(),
            id="implausible-arch",
        ),
        pytest.param(
            OCI_INDEX, json.dumps(index(media_type=DOCKER_LIST)).encode(), id="mediatype-mismatch"
        ),
        pytest.param(
            OCI_MANIFEST, json.dumps({"schemaVersion": 2, "layers": []}).encode(), id="no-config"
        ),
        pytest.param(
            OCI_MANIFEST,
            json.dumps(image_manifest(OCI_CONFIG, "md5:x")).encode(),
            id="config-digest",
        ),
        pytest.param("application/vnd.example+json", b"{}", id="unsupported-type"),
    ],
)
async def test_malformed_manifests_are_bad_responses(media_type: str, body: bytes) -> None:
    registry = FakeRegistry()
    registry.manifests["1.0"] = (media_type, body)
    with pytest.raises(BadResponseError):
        await registry.fetch()


@pytest.mark.parametrize(
    "config",
    [
        pytest.param("not json", id="not-json"),
        pytest.param({"os": "linux"}, id="no-architecture"),
        pytest.param({"os": "linux", "architecture": None}, id="null-architecture"),
        pytest.param({"os": 1, "architecture": "amd64"}, id="os-number"),
        pytest.param({}, id="empty"),
    ],
)
async def test_malformed_config_blob_is_a_bad_response(config: Any) -> None:
    registry = FakeRegistry()
    config_digest = registry.add_blob(config)
    registry.add_manifest(image_manifest(OCI_CONFIG, config_digest), OCI_MANIFEST, tag="1.0")
    with pytest.raises(BadResponseError):
        await registry.fetch()


async def test_child_that_is_not_what_the_index_declares_is_refused() -> None:
    registry = FakeRegistry()
    nested = registry.add_manifest(image_manifest(EMPTY, digest_of(b"{}")), OCI_MANIFEST)
    registry.add_manifest(index(entry(nested, media_type=OCI_INDEX)), OCI_INDEX, tag="1.0")
    with pytest.raises(BadResponseError, match="not of the type"):
        await registry.fetch()


# -- unsupported manifests: a bounded reason each ----------------------------------------------


@pytest.mark.parametrize(
    ("media_type", "body", "reason"),
    [
        pytest.param(
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
            b'{"schemaVersion": 1, "name": "demo/app", "fsLayers": []}',
            "schema1",
            id="schema1-signed",
        ),
        pytest.param(
            "application/json",
            b'{"schemaVersion": 1, "name": "demo/app", "fsLayers": []}',
            "schema1",
            id="schema1-by-shape",
        ),
        pytest.param(
            "application/vnd.example.thing+json", b"{}", "unknown_media_type", id="unknown"
        ),
        pytest.param(
            "application/vnd.oci.image.layer.v1.tar",
            json.dumps({"mediaType": "application/vnd.oci.image.layer.v1.tar"}).encode(),
            "unknown_media_type",
            id="layer",
        ),
    ],
)
async def test_unsupported_manifests_carry_a_reason(
    media_type: str, body: bytes, reason: str
) -> None:
    registry = FakeRegistry()
    registry.manifests["1.0"] = (media_type, body)
    with pytest.raises(UnsupportedManifestError) as info:
        await registry.fetch()
    assert info.value.reason == reason
    assert info.value.reason in UNSUPPORTED_REASONS
    assert isinstance(info.value, BadResponseError)
    assert info.value.result == "error"


async def test_nesting_too_deep_and_too_many_children_have_reasons() -> None:
    registry = FakeRegistry()
    current = registry.add_manifest(index(), OCI_INDEX)
    for _ in range(5):
        current = registry.add_manifest(index(entry(current, media_type=OCI_INDEX)), OCI_INDEX)
    registry.manifests["deep"] = registry.manifests[current]
    with pytest.raises(UnsupportedManifestError) as deep:
        await registry.fetch("deep")
    assert deep.value.reason == "nested_too_deep"

    # Entries without a platform must each be read: a hostile index of many such entries.
    image = registry.add_image("linux", "amd64")
    registry.add_manifest(index(*[entry(image) for _ in range(300)]), OCI_INDEX, tag="wide")
    with pytest.raises(UnsupportedManifestError) as wide:
        await registry.fetch("wide")
    assert wide.value.reason == "too_many_children"


# -- Windows ------------------------------------------------------------------------------------


async def test_windows_entries_differing_only_in_os_version_keep_the_first_stably() -> None:
    registry = FakeRegistry()
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
    registry = FakeRegistry()
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
    registry = FakeRegistry()
    image = registry.add_image("linux", "arm", "v7", created="2023-06-01T00:00:00Z")
    registry.manifests["1.0"] = registry.manifests[image]
    client = registry.client()
    async with client:
        content = await fetch_content(client, "demo/app", "1.0", with_created=True)
    assert dict(content.created) == {ARMV7: 1685577600.0}
    assert len([p for p in registry.paths if "/blobs/" in p]) == 1


# -- platforms per index are capped -----------------------------------------------------------


def many_platforms(count: int) -> list[dict[str, str]]:
    """``count`` distinct, valid platforms: linux/amd64, then linux/arch1, linux/arch2..."""
    return [{"os": "linux", "architecture": "amd64"}] + [
        {"os": "linux", "architecture": f"arch{i}"} for i in range(1, count)
    ]


async def test_an_index_with_10002_platforms_keeps_the_first_64_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = FakeRegistry()
    image = registry.add_image("linux", "amd64")
    platforms = many_platforms(10_002)
    registry.add_manifest(
        index(
            *[entry(image, p) for p in platforms],
            *[entry(image, p) for p in platforms[:100]],  # repeats: kept once, dropped once
            entry(image),  # no platform, after the cap: not read
        ),
        OCI_INDEX,
        tag="1.0",
    )
    client = registry.client()
    with caplog.at_level(logging.WARNING, logger="archlag.registry.content"):
        async with client:
            content = await fetch_content(client, "demo/app", "1.0")
            limits = client.status().limits_hit
    assert list(content.platforms) == [
        Platform(p["os"], p["architecture"]) for p in platforms[:MAX_PLATFORMS]
    ]
    assert MAX_PLATFORMS == 64
    assert content.platforms_dropped == 10_002 - 64 + 1
    assert limits["platforms_per_index"] == 1
    assert registry.paths == ["/v2/demo/app/manifests/1.0"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "platforms_capped registry=127.0.0.1:5000 repository=demo/app reference=1.0 "
        "kept=64 dropped=9939"
    ]


async def test_an_index_at_the_cap_drops_nothing() -> None:
    registry = FakeRegistry()
    image = registry.add_image("linux", "amd64")
    registry.add_manifest(
        index(*[entry(image, p) for p in many_platforms(MAX_PLATFORMS)]), OCI_INDEX, tag="1.0"
    )
    client = registry.client()
    async with client:
        content = await fetch_content(client, "demo/app", "1.0")
        assert client.status().limits_hit["platforms_per_index"] == 0
    assert len(content.platforms) == MAX_PLATFORMS
    assert content.platforms_dropped == 0


async def test_the_cap_counts_platforms_across_nested_indexes() -> None:
    registry = FakeRegistry()
    image = registry.add_image("linux", "amd64")
    platforms = many_platforms(MAX_PLATFORMS + 10)
    inner = registry.add_manifest(index(*[entry(image, p) for p in platforms[40:]]), OCI_INDEX)
    registry.add_manifest(
        index(*[entry(image, p) for p in platforms[:40]], entry(inner, media_type=OCI_INDEX)),
        OCI_INDEX,
        tag="1.0",
    )
    content = await registry.fetch()
    assert len(content.platforms) == MAX_PLATFORMS
    assert content.platforms_dropped == 10


@pytest.mark.parametrize(
    "media_type",
    ["x" * 300, "not a media type", "application/vnd.oci.image.index.v1+json\n"],
    ids=["long", "spaces", "newline"],
)
async def test_a_body_media_type_that_is_not_a_media_type_is_refused(media_type: str) -> None:
    registry = FakeRegistry()
    body = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": []}).encode()
    registry.manifests["1.0"] = ("application/json", body)
    with pytest.raises(BadResponseError, match="mediaType that is not a media type") as info:
        await registry.fetch()
    assert len(str(info.value)) < 300
