"""Where the repository's files are, for tests that read them: one root, wherever a test lives;
and the machine's cache outside the checkout, which ``scripts/test`` fills too."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def cache_dir() -> Path:
    """``${ARCHLAG_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/archlag}``, as ``scripts/test`` has it:
    what takes minutes to make (Renovate, container images) is kept there, shared by every
    clone on the machine."""
    configured = os.environ.get("ARCHLAG_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "archlag"
