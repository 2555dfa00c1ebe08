"""Headless Debian Chromium for page tests: the rendered DOM and screenshots, no driver.

Each call starts ``/usr/bin/chromium --headless`` with a fresh profile in a temporary directory
and the flags that keep it off the network (no background requests, no component updates, no
QUIC), so it talks only to the loopback URL it is given. ``--dump-dom`` prints the DOM after
the page has loaded and its scripts, if any, have run; ``--screenshot`` writes a PNG.

Errors:

    ChromiumError              base class
    ├── ChromiumMissingError       the binary is absent (``scripts/test`` installs ``chromium``)
    └── ChromiumFailedError        it exited non-zero or timed out; the message has its stderr
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

DEFAULT_BINARY = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",  # tests run as root in a container
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
_TIMEOUT_SECONDS = 60.0
_STDERR_TAIL = 2000


class ChromiumError(RuntimeError):
    """Base class of the errors raised here."""


class ChromiumMissingError(ChromiumError):
    """Chromium is not installed."""


class ChromiumFailedError(ChromiumError):
    """Chromium exited with an error or did not finish in time."""


class Chromium:
    def __init__(self, binary: str | None = None, timeout: float = _TIMEOUT_SECONDS) -> None:
        self.binary = binary or shutil.which("chromium") or DEFAULT_BINARY
        self.timeout = timeout
        if not Path(self.binary).is_file():
            raise ChromiumMissingError(
                f"{self.binary} not found: install the Debian package chromium (scripts/test does)"
            )

    def dump_dom(self, url: str) -> str:
        """The page's DOM, serialised after load."""
        return self._run("--dump-dom", url)

    def screenshot(self, url: str, path: Path, *, width: int = 1280, height: int = 900) -> Path:
        """Save a PNG of the page's first ``width`` x ``height`` pixels."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._run(f"--screenshot={path}", f"--window-size={width},{height}", url)
        if not path.is_file() or path.stat().st_size == 0:
            raise ChromiumFailedError(f"chromium wrote no screenshot to {path}")
        return path

    def _run(self, *args: str) -> str:
        with tempfile.TemporaryDirectory(prefix="archlag-chromium-") as profile:
            command = [self.binary, *FLAGS, f"--user-data-dir={profile}", *args]
            try:
                result = subprocess.run(
                    command, capture_output=True, text=True, timeout=self.timeout, check=False
                )
            except subprocess.TimeoutExpired as error:
                raise ChromiumFailedError(f"chromium timed out after {self.timeout:g} s") from error
        if result.returncode != 0:
            raise ChromiumFailedError(
                f"chromium exited {result.returncode}: {result.stderr[-_STDERR_TAIL:]}"
            )
        return result.stdout
