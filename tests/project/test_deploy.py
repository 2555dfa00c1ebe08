"""The container image, the Compose demo and the Kubernetes manifests, checked without an engine.

No Docker engine runs here, so the Dockerfile is checked by what can be run: the files it copies
exist and survive .dockerignore, its install step runs in a fresh virtualenv and gives a working
``archlag``, and its HEALTHCHECK command answers against a running archlag. The Prometheus and
Alertmanager configs of the Compose demo go through promtool and amtool laid out as the
containers see them; the Kubernetes manifests are checked field by field against each other, the
Dockerfile and the rule file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
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
    KUBERNETES_DIR,
    PYPROJECT,
    RULES,
    VERSION,
    load_yaml,
    run,
    tool,
    tool_in_venv,
)
from tests.support.dockerfile import DockerIgnore, Stage, parse_dockerfile
from tests.support.paths import ROOT
from tests.support.registry_server import free_loopback_port


def test_deployment_docs_name_only_existing_files() -> None:
    text = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    named = re.findall(r"`((?:deploy|alerts|dashboards|scripts|tests|docs)/[^`\s]*)`", text)
    assert "deploy/compose/archlag.yml" in named
    for path in named:
        assert (ROOT / path).exists(), path


# --- Dockerfile -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


def test_every_stage_uses_the_same_pinned_official_slim_python(stages: list[Stage]) -> None:
    minor = re.fullmatch(r">=(\d+\.\d+)", PYPROJECT["requires-python"])
    assert minor is not None
    assert len(stages) >= 2, "a multi-stage build: build tools stay out of the image"
    for stage in stages:
        pinned = re.fullmatch(r"python:(\d+\.\d+)\.\d+-slim-bookworm", stage.base)
        assert pinned, f"{stage.base}: use python:X.Y.Z-slim-bookworm"
        assert pinned.group(1) == minor.group(1)
    assert len({stage.base for stage in stages}) == 1, "the virtualenv is copied between stages"


def test_image_runs_archlag_as_a_non_root_user(final: Stage) -> None:
    user = final.last("USER").operands()
    uid = user.partition(":")[0]
    assert uid.isdigit(), "a numeric uid lets Kubernetes' runAsNonRoot verify it"
    assert uid != "0"
    assert f"--uid {uid}" in " ".join(i.arguments for i in final.all("RUN"))
    assert final.last("ENTRYPOINT").exec_form() == ["archlag"]
    assert final.last("CMD").exec_form() == ["-c", "/etc/archlag/config.yml"]


def test_image_declares_state_volume_port_and_labels(final: Stage) -> None:
    assert final.last("VOLUME").words() == ["/var/lib/archlag"]
    assert final.last("EXPOSE").words() == [DEFAULT_PORT]
    labels = final.labels()
    assert labels["org.opencontainers.image.version"] == VERSION, "bump ARG VERSION"
    assert labels["org.opencontainers.image.licenses"] == PYPROJECT["license"]
    assert labels["org.opencontainers.image.source"].startswith("https://")


def test_healthcheck_uses_the_standard_library_not_curl(stages: list[Stage]) -> None:
    for stage in stages:
        for instruction in stage.instructions:
            assert not re.search(r"\b(curl|wget)\b", instruction.arguments), instruction
    command = healthcheck_command(stages[-1])
    assert command[:2] == ["python", "-c"]
    assert f"127.0.0.1:{DEFAULT_PORT}/-/healthy" in command[2]


def healthcheck_command(stage: Stage) -> list[str]:
    operands = stage.last("HEALTHCHECK").operands()
    assert operands.startswith("CMD ["), "HEALTHCHECK CMD in exec form"
    command: list[str] = json.loads(operands.removeprefix("CMD "))
    return command


def copied_files(stage: Stage) -> dict[str, Path]:
    """Context files the stage copies, keyed by their path under its WORKDIR."""
    ignore = DockerIgnore.read(ROOT / ".dockerignore")
    files: dict[str, Path] = {}
    for copy in stage.all("COPY"):
        if "from" in copy.options():
            continue
        *sources, dest = copy.words()
        for source in sources:
            path = ROOT / source
            assert path.exists(), f"the Dockerfile copies {source}, which does not exist"
            assert not ignore.ignores(source), f".dockerignore leaves out {source}"
            if path.is_file():
                files[str(Path(dest) / path.name)] = path
                continue
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                inside = file.relative_to(ROOT).as_posix()
                if not ignore.ignores(inside):
                    files[str(Path(dest) / file.relative_to(path))] = file
    return files


def test_copied_files_exist_and_are_in_the_build_context(stages: list[Stage]) -> None:
    files = copied_files(stages[0])
    assert "pyproject.toml" in files
    assert "src/archlag/cli.py" in files
    assert not any("__pycache__" in name or ".egg-info" in name for name in files)
    names = {stage.name for stage in stages}
    for stage in stages:
        for copy in stage.all("COPY"):
            assert copy.options().get("from", stage.name) in names


@dataclass(frozen=True, slots=True)
class InstalledImage:
    """The build stage's install step, run in a temporary directory instead of /opt."""

    bin: Path
    env: dict[str, str]

    def archlag(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run([str(self.bin / "archlag"), *args], env=self.env)


@pytest.fixture(scope="module")
def installed(stages: list[Stage], tmp_path_factory: pytest.TempPathFactory) -> InstalledImage:
    build, final = stages[0], stages[-1]
    tmp = tmp_path_factory.mktemp("image")
    workdir = tmp / "src"
    for name, source in copied_files(build).items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, workdir / name)
    # The final stage copies the virtualenv the build stage installed: its path is the one to
    # redirect into tmp.
    copy = next(c for c in final.all("COPY") if c.options().get("from") == build.name)
    venv_path = copy.words()[0]
    venv = tmp / "venv"
    (step,) = build.all("RUN")
    command = step.arguments.replace(venv_path, str(venv))
    # `python` is the base image's interpreter; here, the one running the tests (same minor).
    env = {
        **os.environ,
        **build.env(),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    env.pop("VIRTUAL_ENV", None)
    result = run(["/bin/sh", "-c", command], cwd=workdir, env=env)
    assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
    runtime_env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    runtime_env["PATH"] = f"{venv / 'bin'}:{os.environ['PATH']}"  # the image's ENV PATH
    return InstalledImage(venv / "bin", runtime_env)


def test_installed_image_reports_the_package_version(installed: InstalledImage) -> None:
    result = installed.archlag("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"archlag {VERSION}"
    assert not (installed.bin / "pytest").exists(), "the image installs no test extras"


def kubernetes_config(tmp_path: Path) -> Path:
    configmap = load_yaml(KUBERNETES_DIR / "configmap.yaml")
    path = tmp_path / "config.yml"
    path.write_text(configmap["data"]["config.yml"], encoding="utf-8")
    return path


def test_installed_image_accepts_the_deploy_configs(
    installed: InstalledImage, tmp_path: Path
) -> None:
    for config in (COMPOSE_DIR / "archlag.yml", kubernetes_config(tmp_path)):
        result = installed.archlag("--config.check", "-c", str(config))
        assert result.returncode == 0, f"{config}: {result.stdout}{result.stderr}"
        state = yaml.safe_load(config.read_text(encoding="utf-8"))["state_file"]
        assert state.startswith("/var/lib/archlag/"), "state belongs on the image's volume"


@pytest.fixture
def running_archlag(installed: InstalledImage, tmp_path: Path) -> Iterator[int]:
    port = free_loopback_port()
    config = tmp_path / "config.yml"
    config.write_text(
        yaml.safe_dump({"state_file": str(tmp_path / "state.db"), "watches": []}),
        encoding="utf-8",
    )
    log = tmp_path / "archlag.log"
    args = ["-c", str(config), "--web.listen-address", f"127.0.0.1:{port}"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(installed.bin / "archlag"), *args], stdout=out, stderr=out, env=installed.env
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, log.read_text(encoding="utf-8")
            try:
                httpx.get(f"http://127.0.0.1:{port}/-/healthy", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_healthcheck_command_passes_against_a_running_archlag(
    final: Stage, installed: InstalledImage, running_archlag: int
) -> None:
    command = [
        part.replace(DEFAULT_PORT, str(running_archlag)) for part in healthcheck_command(final)
    ]
    result = run(command, env=installed.env)
    assert result.returncode == 0, result.stderr


def test_healthcheck_command_fails_when_nothing_answers(
    final: Stage, installed: InstalledImage
) -> None:
    port = str(free_loopback_port())
    command = [part.replace(DEFAULT_PORT, port) for part in healthcheck_command(final)]
    result = run(command, env=installed.env)
    assert result.returncode != 0


# --- Compose demo ---------------------------------------------------------------------------


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


# --- Kubernetes -----------------------------------------------------------------------------

LABELS = {"app.kubernetes.io/name": "archlag"}


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object in deploy/kubernetes, keyed by kind (one of each)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES_DIR.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert document["kind"] not in found, f"{path.name}: a second {document['kind']}"
            found[document["kind"]] = document | {"_file": path.name}
    return found


def test_every_manifest_has_the_required_fields(manifests: dict[str, dict[str, Any]]) -> None:
    assert set(manifests) == {
        "Kustomization",
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
        "Deployment",
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
    }
    for kind, document in manifests.items():
        assert document.get("apiVersion"), kind
        if kind != "Kustomization":
            assert document["metadata"]["name"], kind
            assert LABELS.items() <= document["metadata"]["labels"].items(), kind
    for kind in ("Deployment", "Service", "ServiceMonitor", "PrometheusRule"):
        assert manifests[kind]["spec"], kind


@pytest.mark.parametrize("kubernetes", ["1.28.0", "latest"])
def test_core_manifests_match_the_kubernetes_schema(
    manifests: dict[str, dict[str, Any]], kubernetes: str
) -> None:
    validate = tool_in_venv("kubernetes-validate")
    # The Operator's and kustomize's kinds have no schema there; the tests below check them.
    files = sorted(
        {d["_file"] for d in manifests.values() if "." not in d["apiVersion"].partition("/")[0]}
    )
    version = [] if kubernetes == "latest" else ["--kubernetes-version", kubernetes]
    result = run([validate, "--strict", *version, *files], cwd=KUBERNETES_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == len(files), result.stdout + result.stderr


def test_kustomization_applies_everything_but_the_secret_example(
    manifests: dict[str, dict[str, Any]],
) -> None:
    resources = manifests["Kustomization"]["resources"]
    expected = {d["_file"] for d in manifests.values()} - {
        "kustomization.yaml",
        "secret.example.yaml",
    }
    assert sorted(resources) == sorted(expected)


@pytest.fixture(scope="module")
def pod(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = manifests["Deployment"]["spec"]["template"]["spec"]
    return spec


def test_deployment_runs_one_hardened_non_root_pod(
    manifests: dict[str, dict[str, Any]], pod: dict[str, Any], final: Stage
) -> None:
    deployment = manifests["Deployment"]["spec"]
    assert deployment["replicas"] == 1, "one writer for the SQLite state"
    assert deployment["strategy"] == {"type": "Recreate"}
    assert deployment["selector"]["matchLabels"].items() <= (
        deployment["template"]["metadata"]["labels"].items()
    )
    uid = int(final.last("USER").operands().partition(":")[0])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid
    assert pod["securityContext"]["fsGroup"] == uid, "the state volume must be writable"
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]
    assert container["image"].endswith(f":{VERSION}")
    assert container["args"] == final.last("CMD").exec_form()


def test_deployment_probes_health_and_readiness_on_the_exposed_port(
    pod: dict[str, Any], final: Stage
) -> None:
    (container,) = pod["containers"]
    (port,) = container["ports"]
    assert [str(port["containerPort"])] == final.last("EXPOSE").words()
    for probe, path in (("livenessProbe", "/-/healthy"), ("readinessProbe", "/-/ready")):
        assert container[probe]["httpGet"] == {"path": path, "port": port["name"]}, probe


def test_deployment_mounts_config_state_and_credentials(
    manifests: dict[str, dict[str, Any]], pod: dict[str, Any], final: Stage
) -> None:
    (container,) = pod["containers"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    config_path = Path(final.last("CMD").exec_form()[-1])
    config = volumes[mounts[str(config_path.parent)]]
    assert config["configMap"]["name"] == manifests["ConfigMap"]["metadata"]["name"]
    assert config_path.name in manifests["ConfigMap"]["data"]
    (state_path,) = final.last("VOLUME").words()
    state = volumes[mounts[state_path]]
    claim = manifests["PersistentVolumeClaim"]["metadata"]["name"]
    assert state["persistentVolumeClaim"]["claimName"] == claim
    # Without write access the image's read-only root leaves SQLite no temporary directory.
    assert "emptyDir" in volumes[mounts["/tmp"]]  # noqa: S108 - the container's /tmp
    (env,) = container["envFrom"]
    secret = manifests["Secret"]
    assert env["secretRef"] == {"name": secret["metadata"]["name"], "optional": True}
    for variable in secret["stringData"]:
        assert f"password_env: {variable}" in manifests["ConfigMap"]["data"]["config.yml"]


def test_service_and_service_monitor_select_the_pod(
    manifests: dict[str, dict[str, Any]], pod: dict[str, Any]
) -> None:
    service = manifests["Service"]
    # The Prometheus Operator names the job after the Service; ArchlagExporterDown expects it.
    assert service["metadata"]["name"] == "archlag"
    pod_labels = manifests["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (container,) = pod["containers"]
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == container["ports"][0]["name"]
    monitor = manifests["ServiceMonitor"]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["endpoints"]
    assert endpoint["port"] == port["name"]
    assert endpoint["path"] == "/metrics"


def test_prometheus_rule_is_generated_from_the_rule_file(
    manifests: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    result = run([sys.executable, str(ROOT / "scripts" / "gen-prometheusrule"), "--check"])
    assert result.returncode == 0, result.stderr
    groups = manifests["PrometheusRule"]["spec"]["groups"]
    assert groups == load_yaml(RULES)["groups"]
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": groups}), encoding="utf-8")
    promtool = tool("promtool", "prometheus")
    checked = run([promtool, "check", "rules", str(rules)])
    assert checked.returncode == 0, checked.stdout + checked.stderr
