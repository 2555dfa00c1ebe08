"""tests/support/podman.py: podman runs with the module's own configuration and stores, and a
run that was killed leaves no container running on the machine."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.paths import ROOT, cache_dir
from tests.support.podman import Podman, prune_stale_sessions
from tests.support.podman_engine import busybox_image

pytestmark = pytest.mark.integration

_GONE_CHECKS = 100  # x 0.05 s for a killed container's process to be reaped


def test_podman_uses_this_configuration_and_a_store_in_the_cache(podman: Podman) -> None:
    info = json.loads(podman.podman("info", "--format", "json").stdout)
    assert info["host"]["ociRuntime"]["name"] == "runc"
    assert info["host"]["cgroupManager"] == "cgroupfs"
    assert info["host"]["eventLogger"] == "file"
    graph_root = Path(info["store"]["graphRoot"])
    assert graph_root.is_relative_to(cache_dir() / "podman" / "sessions")
    assert not graph_root.is_relative_to(ROOT), "container storage stays out of the checkout"
    limits = podman.podman("run", "--rm", busybox_image(), "sh", "-c", "ulimit -n; ulimit -u")
    assert limits.stdout.split() == ["20000", "32768"]


def process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rpartition(")")[2].split()
    except FileNotFoundError:
        return True
    return state[0] == "Z"  # killed; its parent has yet to reap it


def test_the_store_of_a_killed_run_is_removed_with_its_running_containers(
    podman: Podman,
) -> None:
    image = busybox_image()
    script = (
        "from tests.support.podman import start_session\n"
        "session = start_session()\n"
        f"session.podman('run', '--detach', '--name', 'left-behind', {image!r})\n"
        "pid = session.podman('inspect', '--format', '{{.State.Pid}}', 'left-behind').stdout\n"
        "print(session.directory, pid.strip(), flush=True)\n"
        "import time; time.sleep(600)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as run:
        assert run.stdout is not None
        try:
            directory, pid = run.stdout.readline().split()
        finally:
            run.kill()
    assert not process_gone(int(pid)), "the container outlives the run that started it"

    assert Path(directory) in prune_stale_sessions()
    assert not Path(directory).exists()
    for _ in range(_GONE_CHECKS):
        if process_gone(int(pid)):
            break
        time.sleep(0.05)
    assert process_gone(int(pid)), "the container was stopped with its store"
    assert podman.directory.exists(), "a live session's store is left alone"
