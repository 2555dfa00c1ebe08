"""The container image, checked without an engine: its Dockerfile, and what it does when run.

No Docker engine runs here, so the Dockerfile is checked by what can be run: the files it copies
exist and survive .dockerignore, its install step runs in a fresh virtualenv and gives a working
``archlag``, and its HEALTHCHECK command answers against a running archlag.
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

import httpx
import pytest
import yaml

from tests.support.deploy import (
    COMPOSE_DIR,
    DEFAULT_PORT,
    KUBERNETES_DIR,
    PYPROJECT,
    VERSION,
    load_yaml,
    run,
)
from tests.support.dockerfile import DockerIgnore, Stage
from tests.support.paths import ROOT
from tests.support.registry_server import free_loopback_port


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


def test_healthcheck_runs_archlag_itself_not_curl(stages: list[Stage]) -> None:
    for stage in stages:
        for instruction in stage.instructions:
            assert not re.search(r"\b(curl|wget)\b", instruction.arguments), instruction
    command = healthcheck_command(stages[-1])
    assert command == ["archlag", "healthcheck", "--address", f"127.0.0.1:{DEFAULT_PORT}"]


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
