"""The files source: Compose files, Dockerfiles and Kubernetes manifests under the configured
paths (a GitOps checkout, a folder of stacks), read again every ``discovery.interval``.

Each configured path is a file or a folder walked at most
:data:`~archlag.discovery.limits.MAX_DEPTH` deep (hidden folders such as ``.git`` and symbolic
links to folders are not entered), at most :data:`~archlag.discovery.limits.MAX_FILES` files and
:data:`~archlag.discovery.limits.MAX_READ_BYTES` per reading. Files are recognised by name:
``compose.yaml``, ``compose.yml``, ``docker-compose.y(a)ml``; ``Dockerfile``, ``Containerfile``,
``*.Dockerfile``; any other ``*.yaml`` or ``*.yml`` may hold manifests (Helm templates, which
are not YAML until rendered, are skipped with a note). A file larger than
:data:`~archlag.discovery.limits.MAX_FILE_BYTES`, not UTF-8, binary or malformed fails alone
(logged once while it stays so); an entry of a file (a service, a stage, a workload) fails alone
too. A file runs on what it says (``platform:``, ``--platform``, a ``nodeSelector``, or
``diun.platform``), else on each of ``discovery.files.platforms``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import anyio

from archlag import logs
from archlag.config.settings import ConfigError, ConfigIssue, FilesDiscovery
from archlag.config.yaml_source import load_documents
from archlag.core.platforms import Platform
from archlag.discovery.compose_env import InterpolationError, read_dotenv
from archlag.discovery.compose_files import COMPOSE_NAMES, compose_images
from archlag.discovery.dockerfiles import DOCKERFILE_NAMES, dockerfile_images
from archlag.discovery.file_findings import FileFindings, FileImage
from archlag.discovery.interface import ItemProblems, Reading
from archlag.discovery.kube_manifests import manifest_images
from archlag.discovery.limits import (
    MAX_DEPTH,
    MAX_DOCUMENTS,
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_READ_BYTES,
    MAX_SIGHTINGS,
)
from archlag.discovery.selection import choose
from archlag.discovery.sighting import Sighting, SightingError, SourceName, sighting

log = logging.getLogger("archlag.discovery.files")
_SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__"})


class _FileProblem(Exception):
    """A file that cannot be read; the message says why."""


class FilesSource:
    """Reads every configured path; :meth:`read` is one reading (see the module's docstring)."""

    name: SourceName = "files"

    def __init__(
        self,
        settings: FilesDiscovery,
        *,
        watch_by_default: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._settings, self._watch_by_default = settings, watch_by_default
        self._environ = dict(os.environ if environ is None else environ)
        self._problems = ItemProblems(log, "files")
        self._noted: set[str] = set()

    async def read(self) -> Reading:
        return await anyio.to_thread.run_sync(self.read_now)

    def read_now(self) -> Reading:
        """One reading of every path, blocking (run in a worker thread)."""
        self._problems.begin()
        found: list[Sighting] = []
        budget = _Budget()
        notes: list[str] = []
        for path in self._files(budget, notes):
            try:
                findings = self._findings(path, budget)
            except _FileProblem as exc:
                self._problems.failed(str(path), str(exc))
                continue
            for note in findings.notes:
                self._note(path, note)
            for entry, reason in findings.problems:
                self._problems.failed(f"{path}: {entry}", reason)
            for image in findings.images:
                found += self._sightings(path, image)
        if len(found) > MAX_SIGHTINGS:
            notes.append(f"more than {MAX_SIGHTINGS} sightings: the rest are left out")
            found = found[:MAX_SIGHTINGS]
        for note in notes:
            self._note(None, note)
        return Reading(tuple(found), self._problems.end(), "; ".join(notes))

    def _files(self, budget: _Budget, notes: list[str]) -> Iterator[Path]:
        for root in self._settings.paths:
            if root.is_file():
                yield root
                continue
            if not root.is_dir():
                self._problems.failed(str(root), "no such file or folder")
                continue
            for path in _walk(root, 0):
                if budget.files >= MAX_FILES:
                    notes.append(f"stopped after {MAX_FILES} files")
                    return
                if _kind(path) is not None:
                    budget.files += 1
                    yield path

    def _findings(self, path: Path, budget: _Budget) -> FileFindings:
        kind = _kind(path)
        text = _read_text(path, budget)
        if kind == "dockerfile":
            return dockerfile_images(text)
        if kind == "manifest" and "{{" in text:
            return FileFindings(notes=["a template (Helm?), not YAML until rendered: skipped"])
        try:
            documents = load_documents(text, str(path), MAX_DOCUMENTS)
        except ConfigError as exc:
            raise _FileProblem("; ".join(_where(issue) for issue in exc.issues[:3])) from None
        if kind == "manifest":
            return manifest_images(documents)
        return compose_images(documents[0] if documents else None, self._variables(path, budget))

    def _variables(self, compose_file: Path, budget: _Budget) -> dict[str, str]:
        """The project's ``.env`` under the environment, which wins (as in Compose)."""
        dotenv = compose_file.parent / ".env"
        if not dotenv.is_file():
            return self._environ
        try:
            return {**read_dotenv(_read_text(dotenv, budget), self._environ), **self._environ}
        except InterpolationError as exc:
            raise _FileProblem(f"{dotenv}: {exc}") from None

    def _sightings(self, path: Path, image: FileImage) -> list[Sighting]:
        choice = choose(image.marks, watch_by_default=self._watch_by_default)
        workload = f"{path}:{image.name}"
        if choice.problem:
            self._problems.failed(workload, choice.problem)
        if not choice.watched:
            return []
        platforms: tuple[Platform | None, ...] = tuple(sorted(self._settings.platforms)) or (None,)
        if (said := choice.platform or image.platform) is not None:
            platforms = (said,)
        try:
            return [
                sighting(image.reference, source="files", workload=workload,
                         container=image.container, platform=platform,
                         instance=f"{workload}/{image.container}@{platform or 'any'}")
                for platform in platforms
            ]  # fmt: skip
        except SightingError as exc:
            self._problems.failed(workload, str(exc))
            return []

    def _note(self, path: Path | None, note: str) -> None:
        key = f"{path}: {note}" if path else note
        if key not in self._noted and len(self._noted) < MAX_FILES:
            self._noted.add(key)
            logs.event(log, logging.INFO, "discovery_file_skipped", item=str(path or ""),
                       note=note)  # fmt: skip


def _where(issue: ConfigIssue) -> str:
    return f"line {issue.line}: {issue.message}" if issue.line else issue.message


class _Budget:
    """What one reading has used so far."""

    def __init__(self) -> None:
        self.files = 0
        self.bytes = 0


def _kind(path: Path) -> str | None:
    name = path.name
    if name in COMPOSE_NAMES:
        return "compose"
    if DOCKERFILE_NAMES.fullmatch(name):
        return "dockerfile"
    if name.endswith((".yaml", ".yml")):
        return "manifest"
    return None


def _walk(folder: Path, depth: int) -> Iterator[Path]:
    """Files below ``folder``, sorted, hidden and symbolically linked folders left out."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                if depth < MAX_DEPTH and entry.name not in _SKIPPED_FOLDERS:
                    yield from _walk(Path(entry.path), depth + 1)
            elif entry.is_file():
                yield Path(entry.path)
        except OSError:
            continue


def _read_text(path: Path, budget: _Budget) -> str:
    """The file as text, within the bounds.

    Raises:
        _FileProblem: it cannot be read, is too large, binary or not UTF-8, or the reading's
            byte budget is spent.
    """
    if budget.bytes >= MAX_READ_BYTES:
        raise _FileProblem(f"not read: this reading read {MAX_READ_BYTES >> 20} MiB already")
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _FileProblem(f"cannot be read: {exc.strerror or type(exc).__name__}") from None
    budget.bytes += len(data)
    if len(data) > MAX_FILE_BYTES:
        raise _FileProblem(f"larger than {MAX_FILE_BYTES >> 10} KiB")
    if b"\x00" in data:
        raise _FileProblem("binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _FileProblem("not UTF-8 text") from None
