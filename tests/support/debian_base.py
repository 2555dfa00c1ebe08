"""A Debian 12 image with Python 3.11, made with Debian's own tools, standing in for
``python:3.11-slim-bookworm`` (the Dockerfile's ``PYTHON_IMAGE``) where Docker Hub is out of reach.

``mmdebstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates``
makes the root filesystem from the Debian mirror this machine's apt uses (about 30 s), and
``podman import`` turns it into an image with the environment the official image sets (PATH,
LANG). It is made once in the image cache of :mod:`tests.support.podman`, under a tag naming the
pinned Debian release and a hash of this recipe, and made again only when one of them changes.

Differences from the official image that a build can notice: Python is Debian's
(``/usr/bin/python3``, 3.11.2 in Debian 12) rather than one built into ``/usr/local``, and
pip in a virtualenv is Debian's, which reads the system's CA bundle
(``/etc/ssl/certs/ca-certificates.crt``) instead of its own copy of certifi.

Errors: :class:`~tests.support.podman.PodmanError` (mmdebstrap is missing or failed, or the
image does not run Python 3.11) and :class:`~tests.support.podman.PodmanCommandError`.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.podman import Podman, PodmanError, cached_image

__all__ = ["DEBIAN_SUITE", "mirror_lines", "python_base_image"]

DEBIAN_SUITE = "bookworm"  # Debian 12, the release of python:3.11-slim-bookworm
PYTHON_MINOR = "3.11"
PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
# What the official image's config sets that a build or a run can notice.
IMAGE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)
MMDEBSTRAP_TIMEOUT = 900.0  # seconds; about 30 s with a near mirror
_DEBIAN_COMPONENTS = {"main", "contrib", "non-free", "non-free-firmware"}
_FALLBACK_MIRRORS = (
    f"deb http://deb.debian.org/debian {DEBIAN_SUITE} main",
    f"deb http://deb.debian.org/debian {DEBIAN_SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {DEBIAN_SUITE}-security main",
)


def _one_line_entries(text: str) -> list[tuple[str, str, list[str]]]:
    """(uri, suite, components) of each ``deb`` line of a sources.list file."""
    entries = []
    for line in text.splitlines():
        words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()  # no [options]
        if len(words) >= 4 and words[0] == "deb":
            entries.append((words[1], words[2], words[3:]))
    return entries


def _deb822_entries(text: str) -> list[tuple[str, str, list[str]]]:
    """(uri, suite, components) of each enabled ``deb`` stanza of a .sources file."""
    entries = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                entries.append((uri, suite, fields.get("components", "").split()))
    return entries


def mirror_lines(apt: Path = Path("/etc/apt")) -> list[str]:
    """The Debian archive entries of this machine's apt sources for the pinned release (its
    mirror, updates and security suites), as mmdebstrap takes them; Debian's own mirror when
    there are none. Other repositories (and backports) are left out."""
    entries: list[tuple[str, str, list[str]]] = []
    for path in [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list"))]:
        if path.is_file():
            entries += _one_line_entries(path.read_text(encoding="utf-8", errors="replace"))
    for path in sorted((apt / "sources.list.d").glob("*.sources")):
        entries += _deb822_entries(path.read_text(encoding="utf-8", errors="replace"))
    lines: list[str] = []
    for uri, suite, components in entries:
        wanted = [c for c in components if c in _DEBIAN_COMPONENTS]
        release = suite.split("-", 1)
        if release[0] != DEBIAN_SUITE or release[1:] not in ([], ["updates"], ["security"]):
            continue
        line = f"deb {uri} {suite} {' '.join(wanted)}"
        if wanted and line not in lines:
            lines.append(line)
    return lines or list(_FALLBACK_MIRRORS)


def python_base_image() -> str:
    """The Debian-made Python base in the image cache, made now if it is not there."""
    recipe = json.dumps([DEBIAN_SUITE, "minbase", PACKAGES, IMAGE_CHANGES]).encode()
    digest = hashlib.sha256(recipe).hexdigest()
    reference = f"localhost/archlag-test/python-base:{DEBIAN_SUITE}-{digest[:12]}"
    return cached_image(reference, lambda cache: _make(cache, reference))


def _make(cache: Podman, reference: str) -> None:
    tool = shutil.which("mmdebstrap")
    if tool is None:
        raise PodmanError("mmdebstrap not found: install the Debian package mmdebstrap")
    with tempfile.TemporaryDirectory(dir=cache.directory) as work:
        rootfs = Path(work) / "rootfs.tar"
        argv = [
            tool, "--variant=minbase", f"--include={','.join(PACKAGES)}",
            DEBIAN_SUITE, str(rootfs), *mirror_lines(),
        ]  # fmt: skip
        try:
            made = subprocess.run(
                argv, capture_output=True, text=True, timeout=MMDEBSTRAP_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            raise PodmanError(f"mmdebstrap ran over {MMDEBSTRAP_TIMEOUT:g} s") from None
        if made.returncode != 0:
            tail = "\n".join(made.stderr.splitlines()[-30:])
            raise PodmanError(f"{' '.join(argv)}: exit status {made.returncode}\n{tail}")
        changes = [arg for change in IMAGE_CHANGES for arg in ("--change", change)]
        cache.podman("import", *changes, str(rootfs), reference, timeout=300)
    version = cache.podman("run", "--rm", reference, "python", "--version").stdout
    if not version.startswith(f"Python {PYTHON_MINOR}."):
        cache.podman("rmi", reference, check=False)
        raise PodmanError(f"{reference} runs {version.strip()!r}, not Python {PYTHON_MINOR}")
