"""RegistryTagSource: push-time hints from Docker Hub and Quay, and quota-aware slowdown."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from archlag.core.platforms import parse_platform
from archlag.polling.source import RegistryTagSource
from archlag.registry import RegistryClient, RetryPolicy
from tests.support.mock_registry import hub_api, hub_client, quay_api

pytestmark = pytest.mark.anyio

AMD, ARM = parse_platform("linux/amd64"), parse_platform("linux/arm64")
NO_WAIT = RetryPolicy(attempts=1)


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


class Registry:
    """An OCI index with two children, served with Docker Hub-style rate-limit headers."""

    def __init__(self, remaining: int = 90) -> None:
        self.remaining = remaining
        children = {AMD: b'{"schemaVersion":2,"amd":1}', ARM: b'{"schemaVersion":2,"arm":1}'}
        self.children = {p: _digest(body) for p, body in children.items()}
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": d,
                    "size": 10,
                    "platform": {"os": p.os, "architecture": p.architecture},
                }
                for p, d in self.children.items()
            ],
        }
        self.index = json.dumps(index).encode()
        self.digest = _digest(self.index)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        headers = {
            "Content-Type": "application/vnd.oci.image.index.v1+json",
            "Docker-Content-Digest": self.digest,
            "ratelimit-limit": "100;w=21600",
            "ratelimit-remaining": f"{self.remaining};w=21600",
        }
        return httpx.Response(200, headers=headers, content=self.index)

    def client(self) -> RegistryClient:
        return hub_client(self, retry=NO_WAIT)


async def test_hub_push_times_are_hints_for_matching_digests() -> None:
    registry = Registry()

    def hub(request: httpx.Request) -> httpx.Response:
        images = [
            {
                "architecture": "amd64",
                "os": "linux",
                "digest": registry.children[AMD],
                "last_pushed": "2026-01-01T10:00:00Z",
            },
            {
                "architecture": "arm64",
                "os": "linux",
                "digest": "sha256:" + "0" * 64,
                "last_pushed": "2026-01-01T09:00:00Z",
            },  # another build: not this tag's arm64
        ]
        return httpx.Response(200, json={"name": "1.0", "images": images})

    hub_client = hub_api(hub, retry=NO_WAIT)
    source = RegistryTagSource(registry.client(), hub=hub_client)
    content = await source.fetch("gotify/server", "1.0", None)
    assert dict(content.platforms) == registry.children
    assert dict(content.pushed) == {AMD: 1767261600.0}
    await source.aclose()


async def test_quay_revision_start_is_the_hint_for_its_manifest() -> None:
    registry = Registry()

    def quay(request: httpx.Request) -> httpx.Response:
        tags = [
            {"name": "1.0", "manifest_digest": registry.digest, "start_ts": 1767261000},
            {
                "name": "1.0",
                "manifest_digest": "sha256:" + "1" * 64,
                "start_ts": 1767200000,
                "end_ts": 1767261000,
            },
        ]
        return httpx.Response(200, json={"tags": tags, "page": 1, "has_additional": False})

    source = RegistryTagSource(registry.client(), quay=quay_api(quay, retry=NO_WAIT))
    content = await source.fetch("org/app", "1.0", None)
    assert dict(content.pushed) == {AMD: 1767261000.0, ARM: 1767261000.0}
    await source.aclose()


async def test_failing_push_time_api_leaves_archlag_times() -> None:
    registry = Registry()
    down = hub_api(lambda request: httpx.Response(503), retry=NO_WAIT)
    source = RegistryTagSource(registry.client(), hub=down)
    content = await source.fetch("gotify/server", "1.0", None)
    assert set(content.platforms) == {AMD, ARM}
    assert dict(content.pushed) == {}
    await source.aclose()


@pytest.mark.parametrize(("remaining", "factor"), [(90, 1.0), (19, 4.0), (4, 16.0), (0, 16.0)])
async def test_polling_slows_down_as_the_pull_quota_runs_out(remaining: int, factor: float) -> None:
    registry = Registry(remaining)
    source = RegistryTagSource(registry.client())
    assert source.slowdown() == 1.0, "nothing known before the first answer"
    await source.head_digest("gotify/server", "1.0")
    assert source.slowdown() == factor
    await source.aclose()


async def test_hub_tag_listing_gives_push_times_for_ranking() -> None:
    def hub(request: httpx.Request) -> httpx.Response:
        results = [
            {"name": "2.0", "tag_last_pushed": "2026-01-02T00:00:00Z", "images": []},
            {"name": "1.0", "tag_last_pushed": "2026-01-01T00:00:00Z", "images": []},
            {"name": "old", "tag_last_pushed": None, "images": []},
        ]
        return httpx.Response(200, json={"count": 3, "next": None, "results": results})

    registry = Registry()
    hub_client = hub_api(hub, retry=NO_WAIT)
    source = RegistryTagSource(registry.client(), hub=hub_client)
    assert await source.push_times("gotify/server") == {"2.0": 1767312000.0, "1.0": 1767225600.0}
    assert await RegistryTagSource(registry.client()).push_times("gotify/server") == {}
    await source.aclose()
