"""archlag against a registry with htpasswd Basic auth: credentials work and never leak."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import running_registry
from tests.support.archlag_process import ArchlagProcess
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.integration

USER, SECRET = "ci-robot", "planted-s3cret-Zq9"
REPO = "private/app"


@pytest.fixture
def private_registry(tmp_path: Path) -> Iterator[RegistryServer]:
    with running_registry(tmp_path / "registry", users={USER: SECRET}) as server:
        yield server


def publish(registry: RegistryServer) -> None:
    with Pusher(registry.url, auth=(USER, SECRET)) as pusher:
        children = [pusher.push_image(REPO, p) for p in ("linux/amd64", "linux/arm64")]
        pusher.push_index(REPO, "1.0", children)


def config(registry: RegistryServer, tmp_path: Path, credentials: dict) -> dict:
    return {
        "state_file": str(tmp_path / "state.db"),
        "defaults": {"interval": "300ms"},
        "registries": {registry.host: {"insecure": True, **credentials}},
        "watches": [{"image": f"{registry.host}/{REPO}"}],
    }


def visible_text(archlag: ArchlagProcess) -> str:
    """Everything a user or a scraper can read: pages, metrics and the log."""
    pages = [
        httpx.get(f"{archlag.url}{path}", timeout=5).text for path in ("/", "/metrics", "/-/config")
    ]
    return "\n".join([*pages, archlag.log_path.read_text(errors="replace")])


def assert_no_secret(text: str) -> None:
    encoded = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
    assert SECRET not in text
    assert encoded not in text


@pytest.mark.parametrize("how", ["password_env", "password_file", "docker_config"])
def test_credentials_work_and_stay_secret(private_registry, tmp_path, monkeypatch, how) -> None:
    publish(private_registry)
    if how == "password_env":
        monkeypatch.setenv("ARCHLAG_TEST_PASSWORD", SECRET)
        credentials = {"username": USER, "password_env": "ARCHLAG_TEST_PASSWORD"}
    elif how == "password_file":
        (tmp_path / "pw").write_text(SECRET + "\n")
        credentials = {"username": USER, "password_file": str(tmp_path / "pw")}
    else:
        auth = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
        docker = {"auths": {private_registry.host: {"auth": auth}}}
        (tmp_path / "config.json").write_text(json.dumps(docker))
        credentials = {"docker_config": str(tmp_path / "config.json")}
    with ArchlagProcess(tmp_path, config(private_registry, tmp_path, credentials)) as archlag:
        scrape = archlag.wait_for(
            lambda s: (
                s.value(
                    "archlag_tag_complete",
                    registry=private_registry.host,
                    repository=REPO,
                    tag="1.0",
                )
                == 1
            ),
            what="the private tag read with credentials",
        )
        assert scrape.value("archlag_registry_up", registry=private_registry.host) == 1
        assert_no_secret(visible_text(archlag))


def test_wrong_password_is_reported_without_the_password(private_registry, tmp_path) -> None:
    publish(private_registry)
    wrong = "wrong-" + SECRET
    (tmp_path / "pw").write_text(wrong)
    credentials = {"username": USER, "password_file": str(tmp_path / "pw")}
    with ArchlagProcess(tmp_path, config(private_registry, tmp_path, credentials)) as archlag:
        scrape = archlag.wait_for(
            lambda s: (
                (
                    s.value(
                        "archlag_registry_requests_total",
                        registry=private_registry.host,
                        method="GET",
                        result="unauthorized",
                    )
                    or 0
                )
                > 0
            ),
            what="an unauthorized request counted",
        )
        assert scrape.value("archlag_registry_up", registry=private_registry.host) == 0
        status = {"registry": private_registry.host, "repository": REPO}
        assert scrape.value("archlag_watch_status", **status, status="unauthorized") == 1
        text = visible_text(archlag)
        assert "the registry refuses archlag&#x27;s credentials" in text
        assert "unauthorized" in text
        assert wrong not in text
        assert_no_secret(text)
