"""What a tag's content cannot be: malformed and unsupported manifests refused with a bounded
reason, nesting and children limited, and the platforms of an index capped, each limit counted.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from archlag.core.outcomes import UNSUPPORTED_REASONS
from archlag.core.platforms import Platform
from archlag.registry import BadResponseError, UnsupportedManifestError, fetch_content
from archlag.registry.content import MAX_PLATFORMS
from tests.support.manifest_registry import (
    DOCKER_LIST,
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


async def test_nesting_deeper_than_the_limit_is_refused() -> None:
    registry = ManifestRegistry()
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
    registry = ManifestRegistry()
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
    registry = ManifestRegistry()
    config_digest = registry.add_blob(config)
    registry.add_manifest(image_manifest(OCI_CONFIG, config_digest), OCI_MANIFEST, tag="1.0")
    with pytest.raises(BadResponseError):
        await registry.fetch()


async def test_child_that_is_not_what_the_index_declares_is_refused() -> None:
    registry = ManifestRegistry()
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
    registry = ManifestRegistry()
    registry.manifests["1.0"] = (media_type, body)
    with pytest.raises(UnsupportedManifestError) as info:
        await registry.fetch()
    assert info.value.reason == reason
    assert info.value.reason in UNSUPPORTED_REASONS
    assert isinstance(info.value, BadResponseError)
    assert info.value.result == "error"


async def test_nesting_too_deep_and_too_many_children_have_reasons() -> None:
    registry = ManifestRegistry()
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


# -- platforms per index are capped -----------------------------------------------------------


def many_platforms(count: int) -> list[dict[str, str]]:
    """``count`` distinct, valid platforms: linux/amd64, then linux/arch1, linux/arch2..."""
    return [{"os": "linux", "architecture": "amd64"}] + [
        {"os": "linux", "architecture": f"arch{i}"} for i in range(1, count)
    ]


async def test_an_index_with_10002_platforms_keeps_the_first_64_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = ManifestRegistry()
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
    registry = ManifestRegistry()
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
    registry = ManifestRegistry()
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
    registry = ManifestRegistry()
    body = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": []}).encode()
    registry.manifests["1.0"] = ("application/json", body)
    with pytest.raises(BadResponseError, match="mediaType that is not a media type") as info:
        await registry.fetch()
    assert len(str(info.value)) < 300
