"""What the deploy checks share: where the deploy files are, the release they name, and the
tools they run (Debian's on PATH, or the virtualenv's), each run bounded."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from archlag.config import DEFAULT_LISTEN
from tests.support.paths import ROOT

COMPOSE_DIR = ROOT / "deploy" / "compose"
KUBERNETES_DIR = ROOT / "deploy" / "kubernetes"
RULES = ROOT / "alerts" / "archlag.rules.yml"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
VERSION = PYPROJECT["version"]
DEFAULT_PORT = DEFAULT_LISTEN.rpartition(":")[2]
TIMEOUT = 300  # seconds for one tool run; the install step downloads from the package index


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, check=False, timeout=TIMEOUT, **kwargs
    )


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install the Debian package {package} (scripts/test does)")
    return path


def tool_in_venv(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.is_file():
        pytest.fail(f"{path} not found: pip install -e '.[test]' (scripts/test does)")
    return str(path)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))
