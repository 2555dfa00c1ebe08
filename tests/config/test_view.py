"""``/-/config``'s YAML: accepted by ``archlag --config.check`` as it is, and read back the same."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from archlag.config import Config, RegistrySettings, Watch, WatchSettings, parse_config
from archlag.config.discovery_section import (
    DISCOVERY_KEYS,
    DOCKER_KEYS,
    FILES_KEYS,
    KUBERNETES_KEYS,
)
from archlag.config.lateness_settings import LATENESS_KEYS
from archlag.config.loader import TOP_LEVEL_KEYS, WATCH_KEYS
from archlag.config.registries import REGISTRY_KEYS
from archlag.config.settings import (
    DiscoverySettings,
    DockerDiscovery,
    FilesDiscovery,
    KubernetesDiscovery,
)
from archlag.config.tag_filter import TagFilter
from archlag.config.view import render_config
from archlag.core.lateness import LatenessSettings
from archlag.core.references import parse_reference
from archlag.secrets import Secret
from tests.support.archlag_process import run_archlag

SECRETS = {
    "HUB_PASSWORD": "hub-Planted-1",
    "GHCR_TOKEN": "ghcr-Planted-2\n",
    "HOOK_SECRET": "hook-Planted-6",
}
FILE_SECRETS = {
    "harbor-password": "harbor-Planted-3\r\n",
    "quay-token": "quay-Planted-4",
    "hub-hook": "hub-hook-Planted-7\n",
}


def every_key(tmp_path: Path) -> str:
    """A configuration that sets every key the loader accepts, none at its default."""
    for name, value in FILE_SECRETS.items():
        (tmp_path / name).write_bytes(value.encode())
    (tmp_path / "docker.json").write_text("{}")
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\n")
    (tmp_path / "stacks").mkdir(exist_ok=True)
    return f"""\
listen: "127.0.0.1:9999"
state_file: {tmp_path / "state.db"}
latency_buckets: [0, 1s500ms, 90s, 1h, 1y]
defaults:
  interval: 2m
  settled_interval: 2h
  platforms: [linux/amd64, linux/arm/v7]
  stall_after: 0s
  tags: {{include: ['^\\d+\\.\\d+$', '(?i)^v'], exclude: ['-rc\\d*$'], limit: 7}}
  platform_tags: "{{tag}}-{{arch}}"
  backfill: true
  lateness: {{min: 1m, max: 12h, margin: 2, min_observations: 8}}
registries:
  index.docker.io:
    username: me
    password_env: HUB_PASSWORD
    concurrency: 8
    timeout: 45s
    requests_per_minute: 120
    max_backoff: 30m
    hub_api: true
  ghcr.io: {{token_env: GHCR_TOKEN}}
  quay.io: {{token_file: {tmp_path / "quay-token"}, quay_api: true}}
  harbor.example.com: {{username: robot, password_file: {tmp_path / "harbor-password"}}}
  "127.0.0.1:5000": {{insecure: true, docker_config: {tmp_path / "docker.json"}}}
watches:
  - image: gotify/server
    interval: 30s
    settled_interval: 1d
    platforms: [linux/arm64/v8, linux/amd64]
    stall_after: 45m
    tags: {{include: ['^2\\.'], limit: 3}}
    platform_tags: "{{tag}}-{{os}}-{{arch}}"
    backfill: false
    lateness: {{min: 90s, max: 1d, margin: 1.25, min_observations: 3}}
  - image: 127.0.0.1:5000/demo/app
receivers:
  - {{name: local, type: distribution, secret_env: HOOK_SECRET, registry: "127.0.0.1:5000",
     events_per_second: 50}}
  - {{name: hub, type: dockerhub, secret_file: {tmp_path / "hub-hook"}}}
events_listen: "127.0.0.1:9998"
discovery:
  interval: 30s
  grace: 2h
  kubernetes: {{kubeconfig: {tmp_path / "kubeconfig"}, namespaces: ["!kube-system"]}}
  docker: {{host: "tcp://127.0.0.1:2375", include_stopped: true}}
  files: {{paths: [{tmp_path / "stacks"}], platforms: [linux/arm64, linux/arm/v7]}}
  watch_by_default: false
  max_images: 50
  defaults: {{interval: 10m, tags: {{limit: 3}}}}
"""


def test_every_key_reads_back_the_same(tmp_path: Path) -> None:
    config = parse_config(every_key(tmp_path), environ=SECRETS)

    rendered = render_config(config)

    assert parse_config(rendered, environ=SECRETS) == config
    for value in [*SECRETS.values(), *FILE_SECRETS.values()]:
        assert value.strip() not in rendered
    assert "password_env: HUB_PASSWORD" in rendered
    assert f"token_file: {tmp_path / 'quay-token'}" in rendered
    assert "_include_any" not in rendered
    assert rendered.startswith("# archlag runs with this configuration: valid, 2 watches.\n")


def test_config_check_accepts_the_rendered_text_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    rendered = tmp_path / "rendered.yml"
    rendered.write_text(render_config(parse_config(every_key(tmp_path))))

    result = run_archlag("--config.check", "-c", str(rendered))

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{rendered}: configuration is valid (2 watches)\n"


def test_the_shapes_are_those_of_the_file(tmp_path: Path) -> None:
    document = yaml.safe_load(render_config(parse_config(every_key(tmp_path), environ=SECRETS)))

    assert set(document) == TOP_LEVEL_KEYS
    assert document["latency_buckets"] == ["0s", "1s500ms", "1m30s", "1h", "365d"]
    assert set(document["registries"]) == {
        "docker.io", "ghcr.io", "quay.io", "harbor.example.com", "127.0.0.1:5000",
    }  # fmt: skip
    assert set(document["registries"]["docker.io"]) <= REGISTRY_KEYS
    gotify = document["watches"][0]
    assert set(gotify) == {"image", *WATCH_KEYS}
    assert gotify["image"] == "docker.io/gotify/server"
    assert gotify["platforms"] == ["linux/amd64", "linux/arm64"]
    assert gotify["tags"] == {"include": ["^2\\."], "exclude": ["-rc\\d*$"], "limit": 3}
    assert gotify["settled_interval"] == "1d"
    assert document["watches"][1]["platform_tags"] == "{tag}-{arch}", "inherited, written out"
    assert gotify["lateness"] == {
        "min": "1m30s",
        "max": "1d",
        "margin": 1.25,
        "min_observations": 3,
    }
    discovery = document["discovery"]
    assert set(discovery) == DISCOVERY_KEYS
    assert (discovery["interval"], discovery["grace"]) == ("30s", "2h")
    assert discovery["files"]["platforms"] == ["linux/arm/v7", "linux/arm64"]
    assert discovery["defaults"]["tags"]["limit"] == 3


def test_defaults_render_as_a_valid_file() -> None:
    config = Config(watches=(Watch(parse_reference("a/b"), WatchSettings()),))

    rendered = render_config(config)

    assert parse_config(rendered, environ={}) == config
    assert "platform_tags" not in rendered, "None is the loader's default: left out"
    assert "latency_buckets: [0s, 30s, 1m, 2m, 5m" in rendered


def test_a_secret_set_in_code_has_no_reference_and_is_redacted() -> None:
    settings = RegistrySettings("ghcr.io", username="ci", password=Secret("code-Planted-5"))

    rendered = render_config(Config(registries={"ghcr.io": settings}))

    assert "password: <secret>" in rendered
    assert "code-Planted-5" not in rendered


@pytest.mark.parametrize(
    "kind",
    [WatchSettings, RegistrySettings, TagFilter, DiscoverySettings, KubernetesDiscovery,
     DockerDiscovery, FilesDiscovery, LatenessSettings],
)  # fmt: skip
def test_every_setting_of_the_dataclasses_is_a_key_of_the_file(kind: type) -> None:
    # A setting added to the dataclasses must be readable from the file, or the view would
    # write a key that --config.check refuses.
    names = {f.name for f in dataclasses.fields(kind) if not f.name.startswith("_")}
    keys = {
        WatchSettings: WATCH_KEYS,
        RegistrySettings: REGISTRY_KEYS | {"host", "password_from", "token_from", "token"},
        TagFilter: {"include", "exclude", "limit"},
        DiscoverySettings: DISCOVERY_KEYS,
        KubernetesDiscovery: KUBERNETES_KEYS,
        DockerDiscovery: DOCKER_KEYS,
        FilesDiscovery: FILES_KEYS,
        LatenessSettings: LATENESS_KEYS,
    }[kind]
    assert names <= keys
