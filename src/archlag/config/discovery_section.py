"""The ``discovery`` section: where archlag finds the images that run, and how it watches them.

A source runs when its key is present (``kubernetes: {}`` is the in-cluster service account);
``defaults`` holds the watch settings of discovered watches, over the top-level ``defaults``.
Issues go to the :class:`~archlag.config.nodes.NodeReader` passed in; nothing here raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from archlag.config import bounds
from archlag.config.nodes import Node, NodeReader, join
from archlag.config.settings import (
    DiscoverySettings,
    DockerDiscovery,
    FilesDiscovery,
    KubernetesDiscovery,
    WatchSettings,
)
from archlag.core.platforms import PlatformError, parse_platform

DISCOVERY_KEYS = frozenset({
    "interval", "grace", "kubernetes", "docker", "files", "watch_by_default", "max_images",
    "defaults",
})  # fmt: skip
KUBERNETES_KEYS = frozenset({"kubeconfig", "namespaces"})
DOCKER_KEYS = frozenset({"host", "include_stopped"})
FILES_KEYS = frozenset({"paths", "platforms"})
_NAMESPACE = re.compile(r"!?[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_UNIX = re.compile(r"unix://(/[^\x00-\x1f]{1,200})")
_TCP = re.compile(r"tcp://(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]{1,253}):[0-9]{1,5}")
_HOST_RULE = "must be unix:///path/to/socket or tcp://host:port (Docker's DOCKER_HOST forms)"

# Reads a block of watch settings over a base (the loader's own reader of ``defaults``).
WatchSettingsReader = Callable[[Node, str, WatchSettings], WatchSettings]


def read_discovery(
    reader: NodeReader, node: Node, defaults: WatchSettings, watch_settings: WatchSettingsReader
) -> DiscoverySettings | None:
    """The section's settings; None (with issues recorded) when it cannot be used."""
    path = "discovery"
    fields = reader.mapping(node, path, set(DISCOVERY_KEYS))
    if fields is None:
        return None
    values: dict[str, Any] = {
        "interval": reader.bounded_duration(
            fields, path, "interval", bounds.MAX_SETTING_SECONDS, positive=True
        ),
        "grace": reader.bounded_duration(
            fields, path, "grace", bounds.MAX_SETTING_SECONDS, positive=False
        ),
        "max_images": reader.bounded_int(fields, path, "max_images", bounds.DISCOVERED_IMAGES),
    }
    if "watch_by_default" in fields:
        values["watch_by_default"] = reader.scalar(
            fields["watch_by_default"], join(path, "watch_by_default"), bool, "true or false"
        )
    sources = {
        "kubernetes": _kubernetes, "docker": _docker, "files": _files,
    }  # fmt: skip
    for key, read in sources.items():
        if key in fields:
            values[key] = read(reader, _section(reader, fields[key], join(path, key)))
    if not any(key in fields for key in sources):
        reader.error(path, node, "needs at least one source: kubernetes, docker or files")
    values["defaults"] = defaults
    if "defaults" in fields:
        values["defaults"] = watch_settings(fields["defaults"], join(path, "defaults"), defaults)
    return DiscoverySettings(**{k: v for k, v in values.items() if v is not None})


class _Section:
    """A source's fields with its key path; an empty or null value is a source with defaults."""

    def __init__(self, fields: dict[str, Node], path: str, node: Node) -> None:
        self.fields, self.path, self.node = fields, path, node


def _section(reader: NodeReader, node: Node, path: str) -> _Section:
    allowed = {
        "discovery.kubernetes": KUBERNETES_KEYS, "discovery.docker": DOCKER_KEYS,
        "discovery.files": FILES_KEYS,
    }[path]  # fmt: skip
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
        return _Section({}, path, node)
    return _Section(reader.mapping(node, path, set(allowed)) or {}, path, node)


def _kubernetes(reader: NodeReader, section: _Section) -> KubernetesDiscovery:
    fields, path = section.fields, section.path
    values: dict[str, Any] = {}
    if "kubeconfig" in fields:
        values["kubeconfig"] = _existing(reader, fields["kubeconfig"], join(path, "kubeconfig"))
    if "namespaces" in fields:
        node, sub = fields["namespaces"], join(path, "namespaces")
        names = reader.each(node, sub, _namespace, bounds.MAX_NAMESPACES)
        excluded = [name for name in names if name.startswith("!")]
        if len(set(names)) != len(names):
            reader.error(sub, node, "names a namespace twice")
        elif excluded and len(excluded) != len(names):
            reader.error(
                sub, node, "list the namespaces to watch, or all but some (!name), not both"
            )
        else:
            values["namespaces"] = tuple(names)
    return KubernetesDiscovery(**{k: v for k, v in values.items() if v is not None})


def _namespace(text: str) -> str:
    if not _NAMESPACE.fullmatch(text):
        raise ValueError(
            f"{text[:80]!r} is not a namespace name (lower-case letters, digits and -, at most "
            "63), or !name to leave one out"
        )
    return text


def _docker(reader: NodeReader, section: _Section) -> DockerDiscovery:
    fields, path = section.fields, section.path
    values: dict[str, Any] = {}
    if "host" in fields:
        node, sub = fields["host"], join(path, "host")
        host = reader.scalar(node, sub, str, "a string")
        if host is not None and not (_UNIX.fullmatch(host) or _TCP.fullmatch(host)):
            reader.error(sub, node, _HOST_RULE)
        elif host is not None:
            values["host"] = host
    if "include_stopped" in fields:
        values["include_stopped"] = reader.scalar(
            fields["include_stopped"], join(path, "include_stopped"), bool, "true or false"
        )
    return DockerDiscovery(**{k: v for k, v in values.items() if v is not None})


def _files(reader: NodeReader, section: _Section) -> FilesDiscovery | None:
    fields, path = section.fields, section.path
    if "paths" not in fields:
        reader.error(path, section.node, "needs paths: files or folders to read")
        return None
    node, sub = fields["paths"], join(path, "paths")
    if isinstance(node, yaml.SequenceNode) and not node.value:
        reader.error(sub, node, "must list at least one file or folder")
    paths = []
    for item_path, item in reader.items(node, sub, bounds.MAX_DISCOVERY_PATHS):
        found = _existing(reader, item, item_path, folder=True)
        if found is not None:
            paths.append(found)
    platforms: frozenset[Any] = frozenset()
    if "platforms" in fields:
        sub = join(path, "platforms")
        platforms = frozenset(
            reader.each(fields["platforms"], sub, _platform, bounds.MAX_PLATFORMS)
        )
    return FilesDiscovery(tuple(paths), platforms)


def _existing(reader: NodeReader, node: Node, path: str, *, folder: bool = False) -> Path | None:
    name = reader.scalar(node, path, str, "a path")
    if name is None:
        return None
    found = Path(name)
    if not (found.is_file() or (folder and found.is_dir())):
        reader.error(path, node, "no such file or folder" if folder else "no such file")
        return None
    return found


def _platform(text: str) -> Any:
    try:
        return parse_platform(text)
    except PlatformError as exc:
        raise ValueError(str(exc)) from None
