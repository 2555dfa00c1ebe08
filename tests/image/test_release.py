"""The release of docs/deployment.md, for the one platform this machine builds (no emulation
here), and archlag's image watching that release with the watch the docs give.

The image built from the checkout goes into a manifest list that is pushed to the test registry
with ``buildah manifest push --all --format v2s2``, as the docs release it. arm64 then arrives
later, the way a build on a native runner merged into the list would, and archlag in its own
image measures how late.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.archlag_image import HOST_LOOPBACK, ArchlagContainer, BuiltImage
from tests.support.deploy import VERSION
from tests.support.paths import ROOT
from tests.support.podman import Podman
from tests.support.pusher import DOCKER_LIST, DOCKER_MANIFEST, Descriptor, Pusher
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.integration

DEPLOYMENT = ROOT / "docs" / "deployment.md"
RELEASED = "archlag/archlag"


def docs_watch() -> dict[str, Any]:
    """The watch under "archlag watching its own release" in docs/deployment.md."""
    text = DEPLOYMENT.read_text(encoding="utf-8")
    section = text.split("### archlag watching its own release", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None, "the section shows its watch in a yaml block"
    (watch,) = yaml.safe_load(block.group(1))["watches"]
    assert isinstance(watch, dict)
    return watch


def pushed_list(registry: RegistryServer) -> tuple[str, dict[str, Any]]:
    """The content type and body of the released tag's manifest."""
    response = httpx.get(
        f"{registry.url}/v2/{RELEASED}/manifests/{VERSION}",
        headers={"Accept": f"{DOCKER_LIST}, application/vnd.oci.image.index.v1+json"},
    )
    response.raise_for_status()
    return response.headers["Content-Type"], response.json()


def test_the_release_keeps_the_healthcheck_and_archlag_measures_its_own_late_arm64(
    archlag_image: BuiltImage,
    podman: Podman,
    registry: RegistryServer,
    pusher: Pusher,
    tmp_path: Path,
) -> None:
    release = f"archlag-release:{VERSION}"
    podman.buildah("manifest", "create", release)
    podman.buildah("manifest", "add", release, f"containers-storage:{archlag_image.reference}")
    podman.buildah(
        "manifest", "push", "--all", "--format", "v2s2", "--tls-verify=false",
        release, f"docker://{registry.host}/{RELEASED}:{VERSION}",
        timeout=600,
    )  # fmt: skip
    media_type, listed = pushed_list(registry)
    assert media_type == DOCKER_LIST
    (amd64,) = listed["manifests"]
    assert amd64["platform"] == {"architecture": "amd64", "os": "linux"}
    image = httpx.get(
        f"{registry.url}/v2/{RELEASED}/manifests/{amd64['digest']}",
        headers={"Accept": DOCKER_MANIFEST},
    ).json()
    config = httpx.get(f"{registry.url}/v2/{RELEASED}/blobs/{image['config']['digest']}").json()
    assert config["config"]["Healthcheck"]["Test"][1:3] == ["archlag", "healthcheck"]

    host = f"{HOST_LOOPBACK}:{registry.port}"
    watch = docs_watch()
    watch["image"] = watch["image"].replace("ghcr.io", host, 1)
    settings = {
        "state_file": "/var/lib/archlag/archlag.db",
        "defaults": {"interval": "1s", "settled_interval": "1s"},
        "registries": {host: {"insecure": True}},
        "watches": [watch],
    }
    labels = {"registry": host, "repository": RELEASED, "tag": VERSION}
    with ArchlagContainer(podman, archlag_image.reference, tmp_path, settings) as archlag:
        scrape = archlag.wait_for(
            lambda s: (
                s.value("archlag_tag_platform_available", **labels, platform="linux/arm64") == 0
            ),
            "arm64 missing from the release",
        )
        assert scrape.value("archlag_tag_complete", **labels) == 0
        arm64 = pusher.push_image(RELEASED, "linux/arm64", docker=True)
        merged = [Descriptor(DOCKER_MANIFEST, amd64["digest"], amd64["size"], "linux/amd64"), arm64]
        pusher.push_index(RELEASED, VERSION, merged, docker=True)
        delay = "archlag_platform_publication_delay_seconds_count"
        scrape = archlag.wait_for(
            lambda s: (
                s.value(delay, registry=host, repository=RELEASED, platform="linux/arm64") == 1
            ),
            "arm64's delay observed",
        )
        assert scrape.value("archlag_tag_complete", **labels) == 1
