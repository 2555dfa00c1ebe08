"""The ``discovery`` section: the issue's example, defaults, every error at once, reloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlag.config import ConfigError, parse_config
from archlag.config.settings import (
    DEFAULT_DOCKER_HOST,
    DiscoverySettings,
    DockerDiscovery,
    FilesDiscovery,
    KubernetesDiscovery,
)
from archlag.core.platforms import parse_platform
from tests.support.archlag_process import run_archlag
from tests.support.paths import ROOT


def issue_example(tmp_path: Path) -> str:
    """The section as issue 19 shows it, with real paths."""
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\n")
    (tmp_path / "stacks").mkdir(exist_ok=True)
    return f"""\
discovery:
  interval: 1m
  grace: 1h
  kubernetes:
    kubeconfig: {tmp_path / "kubeconfig"}
    namespaces: []
  docker:
    host: unix:///var/run/docker.sock
  files:
    paths: [{tmp_path / "stacks"}]
    platforms: [linux/arm64]
"""


def test_the_issue_example_loads_without_watches(tmp_path: Path) -> None:
    config = parse_config(issue_example(tmp_path), environ={})

    assert config.watches == ()
    assert config.discovery == DiscoverySettings(
        interval=60.0,
        grace=3600.0,
        kubernetes=KubernetesDiscovery(tmp_path / "kubeconfig", ()),
        docker=DockerDiscovery(DEFAULT_DOCKER_HOST),
        files=FilesDiscovery((tmp_path / "stacks",), frozenset({parse_platform("linux/arm64")})),
    )


def test_a_source_without_settings_runs_with_its_defaults() -> None:
    config = parse_config("discovery:\n  kubernetes:\n  docker: {}\n", environ={})

    assert config.discovery is not None
    assert config.discovery.kubernetes == KubernetesDiscovery()
    assert config.discovery.docker == DockerDiscovery()
    assert config.discovery.files is None
    assert config.discovery.watch_by_default is True
    assert config.discovery.max_images == 500


def test_discovered_watches_take_the_defaults_then_their_own() -> None:
    text = """\
defaults: {interval: 5m, stall_after: 1h, tags: {limit: 5, exclude: ["-rc"]}}
discovery:
  docker: {host: "tcp://127.0.0.1:2375", include_stopped: true}
  watch_by_default: false
  max_images: 50
  defaults: {interval: 10m, tags: {limit: 3}}
watches:
  - image: gotify/server
"""
    config = parse_config(text, environ={})

    assert config.discovery is not None
    discovered = config.discovery.defaults
    assert (discovered.interval, discovered.stall_after, discovered.tags.limit) == (600, 3600, 3)
    assert discovered.tags.exclude == ("-rc",), "merged key by key, as a watch's tags"
    assert config.watches[0].settings.interval == 300, "configured watches keep the defaults"
    assert config.discovery.docker == DockerDiscovery("tcp://127.0.0.1:2375", include_stopped=True)
    assert (config.discovery.watch_by_default, config.discovery.max_images) == (False, 50)


def test_every_problem_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    text = f"""\
discovery:
  interval: 0s
  grace: forever
  kubernetes:
    kubeconfig: {tmp_path / "missing"}
    namespaces: ["!default", "!kube-system", Bad_Name]
  docker: {{host: "http://127.0.0.1:2375", include_stopped: maybe}}
  files: {{paths: [{tmp_path / "nowhere"}], platforms: [linux]}}
  watch_by_default: 1
  max_images: 0
  defaults: {{intervall: 1m}}
  swarm: {{}}
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, environ={})

    found = {(issue.line, issue.path) for issue in caught.value.issues}
    assert found == {
        (2, "discovery.interval"),
        (3, "discovery.grace"),
        (5, "discovery.kubernetes.kubeconfig"),
        (6, "discovery.kubernetes.namespaces[2]"),
        (7, "discovery.docker.host"),
        (7, "discovery.docker.include_stopped"),
        (8, "discovery.files.paths[0]"),
        (8, "discovery.files.platforms[0]"),
        (9, "discovery.watch_by_default"),
        (10, "discovery.max_images"),
        (11, "discovery.defaults.intervall"),
        (12, "discovery.swarm"),
    }


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("discovery: {}", "needs at least one source"),
        ("discovery: {files: {}}", "needs paths"),
        ("discovery: {files: {paths: []}}", "at least one file or folder"),
        ("discovery: {kubernetes: {namespaces: [a, '!b']}}", "not both"),
        ("discovery: {kubernetes: {namespaces: [a, a]}}", "twice"),
        ("discovery: {docker: {host: 'unix://relative.sock'}}", "unix:///path"),
        ("discovery: {max_images: 10001, docker: {}}", "from 1 to 10,000"),
        ("discovery: [docker]", "must be a mapping"),
    ],
)
def test_a_section_that_cannot_work_says_why(section: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(section, environ={})


def test_without_watches_or_discovery_there_is_nothing_to_do() -> None:
    with pytest.raises(ConfigError, match="list the images to watch, or discover them"):
        parse_config("listen: 127.0.0.1:9999\n", environ={})


def test_settings_compare_by_value_so_a_reload_sees_what_changed(tmp_path: Path) -> None:
    before = parse_config(issue_example(tmp_path), environ={}).discovery
    changed = issue_example(tmp_path).replace("namespaces: []", "namespaces: ['!kube-system']")
    after = parse_config(changed, environ={}).discovery

    assert before == parse_config(issue_example(tmp_path), environ={}).discovery
    assert before is not None
    assert after is not None
    assert before.kubernetes != after.kubernetes
    assert after.kubernetes is not None
    assert after.kubernetes.namespaces == ("!kube-system",)
    assert (before.docker, before.files) == (after.docker, after.files)


def test_config_check_validates_the_section(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(issue_example(tmp_path))
    bad = tmp_path / "bad.yml"
    bad.write_text("discovery:\n  docker:\n    hots: unix:///run/docker.sock\n")

    accepted = run_archlag("--config.check", "-c", str(good))
    refused = run_archlag("--config.check", "-c", str(bad))

    assert accepted.returncode == 0, accepted.stderr
    assert refused.returncode == 2
    assert "line 3: discovery.docker.hots: unknown key" in refused.stderr


def test_the_commented_example_section_is_valid(tmp_path: Path) -> None:
    text = (ROOT / "config.example.yml").read_text(encoding="utf-8")
    block = text[text.index("# discovery:") :].splitlines()
    section = "\n".join(line.removeprefix("# ") for line in block)
    (tmp_path / "stacks").mkdir()
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\n")
    section = section.replace("/srv/stacks", str(tmp_path / "stacks"))
    section = section.replace("kubeconfig: /path", f"kubeconfig: {tmp_path / 'kubeconfig'}")

    config = parse_config(section, environ={})

    assert config.discovery is not None
    assert config.discovery.defaults.interval == 300
    issue = parse_config(issue_example(tmp_path), environ={}).discovery
    assert issue is not None
    assert (config.discovery.kubernetes, config.discovery.files) == (issue.kubernetes, issue.files)
