"""The Compose demo, checked without an engine.

The Prometheus and Alertmanager configs go through promtool and amtool laid out as the containers
see them; the Compose file through docker-compose; Grafana's provisioning against the dashboards.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.compose import Service
from tests.support.compose import services as compose_services
from tests.support.deploy import (
    COMPOSE_DIR,
    DEFAULT_PORT,
    RULES,
    load_yaml,
    run,
    tool,
)
from tests.support.dockerfile import Stage
from tests.support.paths import ROOT
from tests.support.registry_server import free_loopback_port


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(COMPOSE_DIR / "compose.yml")
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Service]:
    return compose_services(COMPOSE_DIR / "compose.yml", compose)


def test_compose_runs_the_four_services_on_their_usual_ports(
    compose: dict[str, Any], services: dict[str, Service]
) -> None:
    ports = {name: service.spec.get("ports", []) for name, service in services.items()}
    assert ports == {
        "archlag": [f"{DEFAULT_PORT}:{DEFAULT_PORT}"],
        "prometheus": ["9090:9090"],
        "alertmanager": ["9093:9093"],
        "grafana": ["3000:3000"],
    }
    for service in services.values():
        if "image" in service.spec and "build" not in service.spec:
            assert re.search(r":v?\d+\.\d+\.\d+$", service.spec["image"]), "pin image versions"
        for mount in service.mounts:
            if mount.is_bind:
                assert mount.read_only, f"{service.name}: {mount.source} is mounted read-write"
                assert (COMPOSE_DIR / mount.source).exists(), f"{service.name}: {mount.source}"
            else:
                assert mount.source in compose["volumes"], f"{service.name}: {mount.source}"


def test_compose_file_passes_docker_compose_config(compose: dict[str, Any], tmp_path: Path) -> None:
    # Debian's docker-compose 1.29 validates against the Compose schema without an engine. It
    # predates the top-level `name` (the project name), so that key is left out of the copy.
    docker_compose = tool("docker-compose", "docker-compose")
    copy = tmp_path / "compose.yml"
    copy.write_text(yaml.safe_dump({k: v for k, v in compose.items() if k != "name"}))
    result = run(
        [docker_compose, "-f", str(copy), "--project-directory", str(COMPOSE_DIR), "config", "-q"]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_builds_archlag_from_this_repository(
    services: dict[str, Service], final: Stage
) -> None:
    archlag = services["archlag"]
    context = (COMPOSE_DIR / archlag.spec["build"]["context"]).resolve()
    assert context == ROOT
    config_path = final.last("CMD").exec_form()[-1]
    assert archlag.bind_source(config_path) == COMPOSE_DIR / "archlag.yml"
    (volume,) = final.last("VOLUME").words()
    assert any(m.target == volume and not m.is_bind for m in archlag.mounts), "state volume"


def test_compose_prometheus_config_passes_promtool(
    services: dict[str, Service], tmp_path: Path
) -> None:
    prometheus = services["prometheus"]
    assert prometheus.bind_source("/etc/prometheus/archlag.rules.yml") == RULES
    config_path = prometheus.flag("config.file")
    config = load_yaml(prometheus.bind_source(config_path))
    # promtool resolves rule files relative to the config, here in tmp_path; an absolute path
    # would name this machine's own /etc instead of the container's.
    assert all(not Path(entry).is_absolute() for entry in config["rule_files"])
    root = prometheus.lay_out(tmp_path)
    promtool = tool("promtool", "prometheus")
    result = run([promtool, "check", "config", str(root / config_path.lstrip("/"))])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SUCCESS: 1 rule files found" in output
    rules = re.search(r"SUCCESS: (\d+) rules found", output)
    assert rules is not None, output
    assert int(rules.group(1)) > 0


def test_compose_prometheus_scrapes_archlag_as_the_alerts_expect(
    services: dict[str, Service],
) -> None:
    prometheus = services["prometheus"]
    config = load_yaml(prometheus.bind_source(prometheus.flag("config.file")))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    # ArchlagExporterDown names the scrape job.
    assert 'up{job="archlag"}' in RULES.read_text(encoding="utf-8")
    assert jobs["archlag"]["static_configs"] == [{"targets": [f"archlag:{DEFAULT_PORT}"]}]
    (alertmanagers,) = config["alerting"]["alertmanagers"]
    assert alertmanagers["static_configs"] == [{"targets": ["alertmanager:9093"]}]


def test_compose_alertmanager_config_passes_amtool(
    services: dict[str, Service], tmp_path: Path
) -> None:
    alertmanager = services["alertmanager"]
    config_path = alertmanager.flag("config.file")
    root = alertmanager.lay_out(tmp_path)
    amtool = tool("amtool", "prometheus-alertmanager")
    result = run([amtool, "check-config", str(root / config_path.lstrip("/"))])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_compose_alertmanager_logs_alerts_and_sends_them_nowhere(
    services: dict[str, Service], tmp_path: Path
) -> None:
    alertmanager = services["alertmanager"]
    config_path = alertmanager.flag("config.file")
    config = load_yaml(alertmanager.bind_source(config_path))
    (receiver,) = (r for r in config["receivers"] if r["name"] == config["route"]["receiver"])
    assert set(receiver) == {"name"}, "no integrations: nothing leaves the machine"
    # The demo's own flags, on a free loopback port: an alert it receives shows in its log.
    binary = tool("prometheus-alertmanager", "prometheus-alertmanager")
    port = free_loopback_port()
    root = alertmanager.lay_out(tmp_path / "root")
    flags = [f for f in alertmanager.spec["command"] if not f.startswith("--storage.path=")]
    flags = [f.replace(config_path, str(root / config_path.lstrip("/"))) for f in flags]
    log = tmp_path / "alertmanager.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                *flags,
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=out,
            stderr=out,
        )
    try:
        alert = [{"labels": {"alertname": "ArchlagDeployTest", "severity": "warning"}}]
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, log.read_text(encoding="utf-8")
            try:
                httpx.post(f"http://127.0.0.1:{port}/api/v2/alerts", json=alert, timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
                time.sleep(0.2)
        while "ArchlagDeployTest" not in log.read_text(encoding="utf-8"):
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_grafana_provisions_the_default_datasource_and_every_dashboard_unchanged(
    services: dict[str, Service], tmp_path: Path
) -> None:
    grafana = services["grafana"]
    root = grafana.lay_out(tmp_path)
    provisioning = root / "etc" / "grafana" / "provisioning"
    (datasources,) = (provisioning / "datasources").glob("*.yml")
    (source,) = load_yaml(datasources)["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert source["uid"], "a fixed uid"
    # The dashboards' "datasource" variable starts at the default data source.
    assert source["isDefault"] is True
    (providers,) = (provisioning / "dashboards").glob("*.yml")
    (provider,) = load_yaml(providers)["providers"]
    path = provider["options"]["path"]
    assert grafana.bind_source(path) == ROOT / "dashboards"
    dashboards = sorted((ROOT / "dashboards").glob("*.json"))
    assert dashboards, "dashboards/ is empty"
    loaded = sorted((root / path.lstrip("/")).glob("*.json"))
    assert [p.name for p in loaded] == [p.name for p in dashboards]
    for dashboard in dashboards:
        variables = json.loads(dashboard.read_text(encoding="utf-8"))["templating"]["list"]
        assert {"name": "datasource", "type": "datasource", "query": "prometheus"}.items() <= (
            next(v for v in variables if v["name"] == "datasource").items()
        ), dashboard.name
    home = grafana.spec["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (root / home.lstrip("/")).is_file()
