"""The README's install command works, as written there, in a fresh copy of the repository.

The README's "Install and run" block has three lines: the Debian package that Python's venv
module needs (a system package, not installed here: scripts/test installs python3-venv where it
is missing), the install command, and the command that runs archlag. The install command runs
with ``sh`` in a copy of the files git knows (what a fresh clone has), then the archlag it
installed, at the path the run line names, prints its version and accepts config.example.yml.
pip reads PyPI or its local cache; nothing else leaves the machine.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.support.paths import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
INSTALL_TIMEOUT = 600.0  # seconds: a cold pip cache downloads every dependency


def install_block() -> list[str]:
    """The lines of the first ``sh`` block under "## Install and run"."""
    section = README.split("\n## Install and run\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match is not None, "the README's Install and run section has no sh block"
    return match.group(1).splitlines()


def fresh_copy(destination: Path) -> Path:
    """The checkout's files as a clone has them: tracked and new ones, none that git ignores."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the work tree is not copied
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def clean_environment() -> dict[str, str]:
    """This environment without the test run's virtualenv, as a new shell has it."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    test_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != test_bin)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def test_the_readme_install_command_installs_a_working_archlag(tmp_path: Path) -> None:
    prerequisite, install, run = install_block()
    assert prerequisite == "sudo apt-get install python3-venv"
    checkout = fresh_copy(tmp_path / "archlag")
    env = clean_environment()

    installed = subprocess.run(
        ["sh", "-c", install],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    assert installed.returncode == 0, f"{install!r} failed:\n{installed.stdout}{installed.stderr}"

    command, *arguments = shlex.split(run)
    assert arguments == ["-c", "config.example.yml"]
    archlag = str(checkout / command)
    version = subprocess.run(
        [archlag, "--version"], cwd=checkout, env=env, capture_output=True, text=True, check=False
    )
    check = subprocess.run(
        [archlag, "--config.check", "-c", "config.example.yml"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert (version.returncode, version.stdout.strip()) == (
        0,
        f"archlag {pyproject['project']['version']}",
    )
    assert check.returncode == 0, check.stderr
    assert "configuration is valid" in check.stdout + check.stderr
