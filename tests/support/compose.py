"""A Compose file's services and their mounts, laid out on disk as the containers see them.

Tools such as promtool resolve paths relative to the config file they check. Copying each
bind-mounted file to ``ROOT/<container path>`` lets them check a service's config exactly as
the container will find it, relative paths included, without touching the host's /etc.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Mount:
    source: str  # a path relative to the compose file, or a named volume
    target: str
    read_only: bool

    @property
    def is_bind(self) -> bool:
        return self.source.startswith((".", "/"))


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    spec: dict[str, Any]
    directory: Path  # where the compose file lives: bind sources are relative to it

    @property
    def mounts(self) -> list[Mount]:
        found = []
        for entry in self.spec.get("volumes", []):
            source, target, *mode = entry.split(":")
            found.append(Mount(source, target, mode == ["ro"]))
        return found

    def bind_source(self, target: str) -> Path:
        """The host path mounted at ``target``."""
        for mount in self.mounts:
            if mount.target == target and mount.is_bind:
                return (self.directory / mount.source).resolve()
        raise LookupError(f"{self.name} mounts nothing at {target}")

    def flag(self, name: str) -> str:
        """The value of ``--name=value`` in the service's command."""
        for word in self.spec.get("command", []):
            if word.startswith(f"--{name}="):
                return str(word.partition("=")[2])
        raise LookupError(f"{self.name} has no --{name} in its command")

    def lay_out(self, root: Path) -> Path:
        """Copy every bind mount to ``root/<target>``; returns root."""
        for mount in self.mounts:
            if not mount.is_bind:
                continue
            source = (self.directory / mount.source).resolve()
            dest = root / mount.target.lstrip("/")
            if source.is_dir():
                shutil.copytree(source, dest)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest)
        return root


def services(path: Path, document: dict[str, Any]) -> dict[str, Service]:
    return {name: Service(name, spec, path.parent) for name, spec in document["services"].items()}
