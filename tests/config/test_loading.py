"""Configuration loading: defaults, inheritance, every error at once with path and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from archlag.config import (
    DEFAULT_LATENCY_BUCKETS,
    ConfigError,
    load_config,
    parse_config,
    split_listen_address,
)
from archlag.core.platforms import parse_platform
from tests.support.paths import ROOT

ARCHLAG = [sys.executable, "-m", "archlag.cli"]

EXAMPLE = """
listen: "0.0.0.0:10043"
state_file: "archlag.db"
defaults:
  interval: 1m
  settled_interval: 1h
  platforms: []
  stall_after: 30m
  tags: {include: [".*"], exclude: ["-rc"], limit: 20}
registries:
  "127.0.0.1:5000": {insecure: true}
  docker.io: {username: me, password_env: HUB_TOKEN, concurrency: 4}
watches:
  - image: gotify/server
    platforms: [linux/amd64, linux/aarch64, linux/arm]
    stall_after: 45m
    tags: {include: ['^\\d+\\.\\d+\\.\\d+$'], limit: 10}
  - image: 127.0.0.1:5000/demo/app
"""


def test_example_from_the_issue_loads_with_inheritance() -> None:
    config = parse_config(EXAMPLE, environ={"HUB_TOKEN": "s3cret-token"})
    gotify, demo = config.watches
    assert (gotify.registry, gotify.repository) == ("docker.io", "gotify/server")
    assert gotify.settings.platforms == {
        parse_platform("linux/amd64"),
        parse_platform("linux/arm64"),
        parse_platform("linux/arm/v7"),
    }
    assert gotify.settings.stall_after == 2700
    assert gotify.settings.interval == 60
    assert gotify.settings.tags.limit == 10
    assert gotify.settings.tags.matches("2.6.1")
    assert not gotify.settings.tags.matches("latest")
    assert not gotify.settings.tags.matches("2.6.1-rc1"), "exclude inherited from defaults"
    assert demo.settings.tags.limit == 20
    assert config.registry("127.0.0.1:5000").insecure
    hub = config.registry("docker.io")
    assert hub.username == "me"
    assert hub.password is not None
    assert hub.password.reveal() == "s3cret-token"
    assert "s3cret-token" not in repr(config)
    assert config.latency_buckets == DEFAULT_LATENCY_BUCKETS
    assert config.registry("ghcr.io").insecure is False


def test_every_error_is_reported_with_path_and_line() -> None:
    text = """\
listen: nowhere
defaults:
  interval: 1x
  bogus: 1
  platforms: [linux]
  tags: {include: ["("], limit: 0}
registries:
  docker.io: {username: me, password: hunter2}
watches:
  - image: gotify/server
  - image: docker.io/gotify/server
  - image: Bad/Name
  - {image: ghcr.io/o/r, interval: 5}
latency_buckets: [1m, 30s]
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "cfg.yml", environ={})
    found = {(issue.line, issue.path) for issue in caught.value.issues}
    assert found == {
        (1, "listen"),
        (3, "defaults.interval"),
        (4, "defaults.bogus"),
        (5, "defaults.platforms[0]"),
        (6, "defaults.tags.include[0]"),
        (6, "defaults.tags.limit"),
        (8, "registries.docker.io.password"),
        (8, "registries.docker.io"),
        (11, "watches[1].image"),
        (12, "watches[2].image"),
        (13, "watches[3].interval"),
        (14, "latency_buckets"),
    }
    message = str(caught.value)
    assert "hunter2" not in message
    assert "line 11: watches[1].image: docker.io/gotify/server is already watched" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty configuration"),
        ("watches: [", "not valid YAML"),
        ("[1, 2]", "must be a mapping"),
        ("defaults: {}", "watches: is required"),
        ("watches:\n  - image: a/b\n    image: c/d", "duplicate key"),
        ("watches: [{image: a/b, tags: {limit: true}}]", "must be a whole number"),
        ("watches: [{image: 'a/b@sha256:00'}]", "not a digest"),
        ("registries: {ghcr.io: {username: u}}\nwatches: [{image: a/b}]", "username needs"),
        ("registries: {ghcr.io: {password_env: X}}\nwatches: [{image: a/b}]", "need a username"),
        (
            "registries: {ghcr.io: {token_env: T, docker_config: /etc/passwd}}\n"
            "watches: [{image: a/b}]",
            "choose one way to authenticate, not token and docker_config",
        ),
        ("registries: {ghcr.io: {hub_api: true}}\nwatches: [{image: a/b}]", "only applies to"),
        ("registries: {ghcr.io: {docker_config: /nope.json}}\nwatches: [{image: a/b}]", "no such"),
        ("registries: {quay.io: {requests_per_minute: 0}}\nwatches: [{image: a/b}]", "from 1 to"),
        ("watches: [{image: a/b, platform_tags: '{tag}'}]", "{arch}"),
        ("watches: [{image: a/b, platform_tags: '{tag}-{cpu}'}]", "unknown placeholder"),
        ("registries: {'bad host!': {}}\nwatches: [{image: a/b}]", "not a registry host"),
    ],
)
def test_rejections(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match="configuration error") as caught:
        parse_config(text, environ={})
    assert fragment in str(caught.value)


def test_password_file_is_read_and_never_shown(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("file-secret-42\n")
    text = (
        f"registries: {{ghcr.io: {{username: u, password_file: {secret}}}}}\n"
        "watches: [{image: ghcr.io/a/b}]"
    )
    config = parse_config(text, environ={})
    password = config.registry("ghcr.io").password
    assert password is not None
    assert password.reveal() == "file-secret-42"
    assert "file-secret-42" not in repr(config.registry("ghcr.io"))
    missing = text.replace(str(secret), str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="cannot read secret file"):
        parse_config(missing, environ={})


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("0.0.0.0:10043", ("0.0.0.0", 10043)),
        (":9000", ("0.0.0.0", 9000)),
        ("[::1]:10043", ("::1", 10043)),
        ("localhost:1", ("localhost", 1)),
    ],
)
def test_listen_addresses(address: str, expected: tuple[str, int]) -> None:
    assert split_listen_address(address) == expected


@pytest.mark.parametrize("address", ["10043", "host:0", "host:70000", "a b:1"])
def test_bad_listen_addresses(address: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        split_listen_address(address)


def test_config_check_command(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text("watches: [{image: gotify/server}]\n")
    result = subprocess.run(
        [*ARCHLAG, "--config.check", "-c", str(good)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "configuration is valid (1 watches)" in result.stdout
    bad = tmp_path / "bad.yml"
    bad.write_text("watches:\n  - image: gotify/server\n    stall_afterr: 5m\n")
    result = subprocess.run(
        [*ARCHLAG, "--config.check", "-c", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "line 3: watches[0].stall_afterr: unknown key" in result.stderr


def test_shipped_example_config_is_valid() -> None:
    config = load_config(ROOT / "config.example.yml", environ={})
    assert config.watches, "the example watches real public images"


def test_registry_access_settings(tmp_path: Path) -> None:
    docker_config = tmp_path / "config.json"
    docker_config.write_text("{}")
    text = f"""
registries:
  docker.io: {{hub_api: true, requests_per_minute: 60, max_backoff: 10m}}
  ghcr.io: {{token_env: GHCR_TOKEN}}
  quay.io: {{docker_config: {docker_config}, quay_api: true}}
watches:
  - image: gotify/server
    platform_tags: "{{tag}}-{{arch}}"
    backfill: true
"""
    config = parse_config(text, environ={"GHCR_TOKEN": "ghp-planted"})
    hub = config.registry("docker.io")
    assert (hub.hub_api, hub.requests_per_minute, hub.max_backoff) == (True, 60, 600.0)
    token = config.registry("ghcr.io").token
    assert token is not None
    assert token.reveal() == "ghp-planted"
    assert "ghp-planted" not in repr(config)
    assert config.registry("quay.io").docker_config == docker_config
    settings = config.watches[0].settings
    assert settings.platform_tags == "{tag}-{arch}"
    assert settings.backfill is True
