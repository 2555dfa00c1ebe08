"""The real Renovate, run offline in ``--platform=local`` lookup mode, and what it proposes.

``scripts/test`` installs the Renovate release pinned there (``RENOVATE_VERSION``) into
``~/.cache/archlag/renovate/renovate@VERSION/`` (``ARCHLAG_CACHE_DIR``) and exports
``ARCHLAG_RENOVATE``, the path of its
``renovate`` command; without that variable (pytest run by hand) the same path is derived from
the pin in ``scripts/test``.

:func:`lookup` runs Renovate once in a directory holding a repository's files and its
``renovate.json``. In local mode Renovate only looks up updates (``dryRun=lookup``); it writes
what it found to a JSON report (``--report-type=file``), which is parsed here into
:class:`Update` values: no log prose is read. Each run gets a fresh ``RENOVATE_BASE_DIR``,
because Renovate caches Docker lookups there for 30 minutes and the tests change the registry
between runs.

Errors:

    RenovateError             base class
    ├── RenovateMissingError  the pinned Renovate is not installed (scripts/test installs it)
    └── RenovateRunError      Renovate exited non-zero, timed out, or wrote no usable report;
                              the message ends with the tail of its debug log
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.paths import ROOT, cache_dir

__all__ = [
    "Dependency",
    "LookupResult",
    "RenovateError",
    "RenovateMissingError",
    "RenovateRunError",
    "Update",
    "lookup",
    "pinned_version",
    "renovate_command",
]

_PIN = re.compile(r"^RENOVATE_VERSION=(\S+)$", re.MULTILINE)
_LOG_TAIL_LINES = 40


class RenovateError(RuntimeError):
    """Base class of the errors raised here."""


class RenovateMissingError(RenovateError):
    """The pinned Renovate is not installed."""


class RenovateRunError(RenovateError):
    """A Renovate run failed; the message carries the tail of its log."""


@dataclass(frozen=True, slots=True)
class Update:
    """One update Renovate proposes for a dependency (one entry of the report's ``updates``)."""

    new_value: str
    new_digest: str | None
    update_type: str
    pending_checks: bool  # held back by minimumReleaseAge (or another internal check)
    release_timestamp: str | None


@dataclass(frozen=True, slots=True)
class Dependency:
    """A dependency Renovate found in a package file, with what it proposes for it."""

    package_file: str
    package_name: str
    current_value: str | None
    current_digest: str | None
    updates: tuple[Update, ...]
    warnings: tuple[str, ...]  # e.g. "Failed to look up custom.archlag package ..."


@dataclass(frozen=True, slots=True)
class LookupResult:
    """What one Renovate run found: every dependency, and the problems it reported."""

    dependencies: tuple[Dependency, ...]
    problems: tuple[str, ...]
    log_path: Path

    @property
    def complaints(self) -> tuple[str, ...]:
        """Every problem and per-dependency warning (a failed lookup is only a warning)."""
        return self.problems + tuple(w for d in self.dependencies for w in d.warnings)

    def in_file(self, package_file: str) -> Dependency:
        """The one dependency Renovate found in ``package_file``."""
        found = [d for d in self.dependencies if d.package_file == package_file]
        if len(found) != 1:
            raise AssertionError(
                f"expected one dependency in {package_file}, Renovate found {found}"
                f" (log: {self.log_path})"
            )
        return found[0]


def pinned_version() -> str:
    """The Renovate version ``scripts/test`` installs."""
    match = _PIN.search((ROOT / "scripts" / "test").read_text(encoding="utf-8"))
    if match is None:
        raise RenovateError("scripts/test has no RENOVATE_VERSION=... line")
    return match.group(1)


def renovate_command() -> Path:
    """The installed pinned ``renovate`` command."""
    configured = os.environ.get("ARCHLAG_RENOVATE")
    version = pinned_version()
    installed = cache_dir() / "renovate" / f"renovate@{version}" / "node_modules" / ".bin"
    command = Path(configured) if configured else installed / "renovate"
    if not command.is_file():
        raise RenovateMissingError(
            f"Renovate {version} is not installed at {command}: run scripts/test once, which"
            " installs it with npm (Node.js >= 20.15.1)"
        )
    return command


def lookup(repo_dir: Path, work_dir: Path, *, timeout: float = 120.0) -> LookupResult:
    """Run Renovate once on the files in ``repo_dir``; keep its cache, report and log in
    ``work_dir`` (a directory of its own per run)."""
    command = renovate_command()
    work_dir.mkdir(parents=True)
    report_path = work_dir / "report.json"
    log_path = work_dir / "renovate.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work_dir),
        "RENOVATE_BASE_DIR": str(work_dir / "base"),
        "LOG_LEVEL": "debug",
        # Never colour or wrap the log: it is kept for the failure messages.
        "NO_COLOR": "1",
    }
    argv = [
        str(command),
        "--platform=local",
        "--report-type=file",
        f"--report-path={report_path}",
    ]
    with log_path.open("wb") as log:
        try:
            completed = subprocess.run(
                argv,
                cwd=repo_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise RenovateRunError(
                f"Renovate did not finish within {timeout:g} s; log tail:\n{_tail(log_path)}"
            ) from None
    if completed.returncode != 0:
        raise RenovateRunError(
            f"Renovate exited with status {completed.returncode}; log tail:\n{_tail(log_path)}"
        )
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        return _parse_report(report, log_path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RenovateRunError(
            f"Renovate's report {report_path} is missing or unusable ({exc!r}); log tail:\n"
            f"{_tail(log_path)}"
        ) from None


def _parse_report(report: dict[str, Any], log_path: Path) -> LookupResult:
    # {"problems": [...], "repositories": {"local": {"problems": [...],
    #   "packageFiles": {MANAGER: [{"packageFile": ..., "deps": [{..., "updates": [...]}]}]}}}}
    repository = report["repositories"]["local"]
    dependencies = tuple(
        Dependency(
            package_file=package_file["packageFile"],
            package_name=dep.get("packageName") or dep["depName"],
            current_value=dep.get("currentValue"),
            current_digest=dep.get("currentDigest"),
            updates=tuple(
                Update(
                    new_value=update["newValue"],
                    new_digest=update.get("newDigest"),
                    update_type=update["updateType"],
                    pending_checks=bool(update.get("pendingChecks", False)),
                    release_timestamp=update.get("releaseTimestamp"),
                )
                for update in dep.get("updates", [])
            ),
            warnings=tuple(_message(w) for w in dep.get("warnings", [])),
        )
        for files in repository["packageFiles"].values()
        for package_file in files
        for dep in package_file["deps"]
    )
    problems = tuple(
        _message(problem)
        for problem in [*report.get("problems", []), *repository.get("problems", [])]
    )
    return LookupResult(dependencies, problems, log_path)


def _message(entry: Any) -> str:
    return str(entry.get("message", entry)) if isinstance(entry, dict) else str(entry)


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log written)"
    return "\n".join(lines[-_LOG_TAIL_LINES:])
