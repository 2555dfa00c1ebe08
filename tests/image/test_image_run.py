"""archlag's image, built from this checkout with buildah and run with podman as the docs say.

The container watches the real test registry (at the machine's loopback as slirp4netns shows
it), with its config mounted read-only, its state in a named volume and its root filesystem
read-only. What a user of the image would notice is checked: the metrics and the status page,
the uid the process runs as and owns its state with, the image's own HEALTHCHECK, a SIGTERM
that ends archlag by itself (a SIGKILL after the grace period would exit 137), the state file
readable by archlag's store afterwards, and the message when the state directory is not
writable.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from archlag.core.platforms import parse_platform
from archlag.store import SQLiteStore
from tests.support.archlag_image import HOST_LOOPBACK, ArchlagContainer, BuiltImage
from tests.support.deploy import VERSION
from tests.support.podman import Podman
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.integration

REPOSITORY = "demo/app"
UID = "10043"
BOTH = ("linux/amd64", "linux/arm64")


def watch_config(registry: RegistryServer) -> dict[str, Any]:
    host = f"{HOST_LOOPBACK}:{registry.port}"
    return {
        "state_file": "/var/lib/archlag/archlag.db",
        "defaults": {"interval": "1s", "settled_interval": "1s"},
        "registries": {host: {"insecure": True}},
        "watches": [{"image": f"{host}/{REPOSITORY}"}],
    }


def tag_labels(registry: RegistryServer, tag: str) -> dict[str, str]:
    return {"registry": f"{HOST_LOOPBACK}:{registry.port}", "repository": REPOSITORY, "tag": tag}


def sha256_in(podman: Podman, image: str, path: str) -> str:
    result = podman.podman("run", "--rm", "--network", "none", "--entrypoint", "cat", image, path)
    return hashlib.sha256(result.stdout.encode()).hexdigest()


def test_built_image_keeps_what_the_dockerfile_declares(
    archlag_image: BuiltImage, podman: Podman
) -> None:
    inspected = podman.inspect("image", archlag_image.reference)
    config = inspected["Config"]
    assert config["User"] == f"{UID}:{UID}"
    assert config["Entrypoint"] == ["archlag"]
    assert config["Cmd"] == ["-c", "/etc/archlag/config.yml"]
    assert "10043/tcp" in config["ExposedPorts"]
    assert "/var/lib/archlag" in config["Volumes"]
    assert config["Labels"]["org.opencontainers.image.version"] == VERSION
    test = inspected["Healthcheck"]["Test"]  # buildah's OCI format would have dropped it
    assert test == ["CMD", "archlag", "healthcheck", "--address", "127.0.0.1:10043"]
    version = podman.podman(
        "run", "--rm", "--network", "none", archlag_image.reference, "--version"
    )
    assert version.stdout.strip() == f"archlag {VERSION}"
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    assert sha256_in(podman, archlag_image.reference, bundle) == sha256_in(
        podman, archlag_image.base, bundle
    ), "the build's CA mount is not baked into the image"


def test_archlag_in_the_image_records_a_staggered_release_of_the_test_registry(
    archlag_image: BuiltImage,
    podman: Podman,
    registry: RegistryServer,
    pusher: Pusher,
    tmp_path: Path,
) -> None:
    pusher.publish(REPOSITORY, "1.0", *BOTH)
    pusher.publish(REPOSITORY, "1.1", "linux/amd64")
    config = watch_config(registry)
    with ArchlagContainer(podman, archlag_image.reference, tmp_path, config) as archlag:
        complete = "archlag_tag_complete"
        archlag.wait_for(
            lambda s: s.value(complete, **tag_labels(registry, "1.1")) == 0,
            "1.1 incomplete",
        )
        pusher.publish(REPOSITORY, "1.1", *BOTH)
        scrape = archlag.wait_for(
            lambda s: s.value(complete, **tag_labels(registry, "1.1")) == 1, "1.1 complete"
        )
        assert scrape.value(complete, **tag_labels(registry, "1.0")) == 1
        page = httpx.get(f"{archlag.url}/", timeout=5)
        assert page.status_code == 200
        assert f"{HOST_LOOPBACK}:{registry.port}/{REPOSITORY}" in page.text

        top = podman.podman("top", archlag.name, "huser", "args").stdout.splitlines()
        assert len(top) == 2, "archlag is the container's only process"
        assert top[1].split()[0] == UID
        state = archlag.volume_path() / "archlag.db"
        assert state.stat().st_uid == int(UID)

        health = podman.podman("healthcheck", "run", archlag.name, check=False)
        assert health.returncode == 0, health.stdout + health.stderr
        assert archlag.state()["Health"]["Status"] == "healthy"


def test_sigterm_stops_archlag_cleanly_and_its_state_survives_in_the_volume(
    archlag_image: BuiltImage,
    podman: Podman,
    registry: RegistryServer,
    pusher: Pusher,
    tmp_path: Path,
) -> None:
    pusher.publish(REPOSITORY, "1.0", *BOTH)
    config = watch_config(registry)
    with ArchlagContainer(podman, archlag_image.reference, tmp_path, config) as archlag:
        archlag.wait_for(
            lambda s: s.value("archlag_tag_complete", **tag_labels(registry, "1.0")) == 1,
            "1.0 complete",
        )
        podman.podman("stop", "--time", "10", archlag.name)
        stopped = archlag.state()
        assert stopped["ExitCode"] == 0, "archlag ended on SIGTERM, not by podman's SIGKILL"
        assert "event=stopped" in archlag.logs()

        store = SQLiteStore(str(archlag.volume_path() / "archlag.db"))
        try:
            record = store.load(f"{HOST_LOOPBACK}:{registry.port}", REPOSITORY)
        finally:
            store.close()
    assert record.tags["1.0"].publication.present == {parse_platform(p) for p in BOTH}


def test_a_state_directory_archlag_cannot_write_stops_it_with_the_reason(
    archlag_image: BuiltImage, podman: Podman, tmp_path: Path
) -> None:
    owned_by_root = tmp_path / "state"
    owned_by_root.mkdir()
    config = tmp_path / "config.yml"
    config.write_text(
        yaml.safe_dump({"state_file": "/var/lib/archlag/archlag.db", "watches": []}),
        encoding="utf-8",
    )
    result = podman.podman(
        "run", "--rm", "--network", "none",
        "--volume", f"{owned_by_root}:/var/lib/archlag",
        "--volume", f"{config}:/etc/archlag/config.yml:ro",
        archlag_image.reference,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        "state file /var/lib/archlag/archlag.db: cannot open it for writing: Permission denied"
        in result.stderr
    )
