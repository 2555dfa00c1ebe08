"""The configuration file: YAML in, a frozen dataclass tree out, every error reported at once.

:func:`load_config` raises :class:`ConfigError`, which carries every :class:`ConfigIssue` found
(key path and line number each), so a user fixes the whole file in one go. Unknown keys, wrong
types, bad durations, regexes, platforms and image references, duplicate keys and duplicate
watches are all rejected. Secrets are read from ``password_env`` or ``password_file`` only and are
held in :class:`~archlag.secrets.Secret`, so they never show up in a repr or a message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import yaml

from archlag.durations import DurationError, parse_duration
from archlag.platforms import Platform, PlatformError, parse_platform
from archlag.reference import DOCKER_HUB, ImageReference, ImageReferenceError, parse_reference
from archlag.secrets import Secret

T = TypeVar("T")

DEFAULT_LISTEN = "0.0.0.0:10043"  # an exporter listens on all interfaces by default
DEFAULT_LATENCY_BUCKETS: tuple[float, ...] = (
    0, 30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 10800, 21600, 43200, 86400,
)  # fmt: skip
_HUB_ALIASES = {"index.docker.io": DOCKER_HUB, "registry-1.docker.io": DOCKER_HUB}
_HOST = re.compile(r"^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$")
_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):(?P<port>\d{1,5})$")


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path or '(top level)'}: {self.message}"


class ConfigError(Exception):
    """The configuration is invalid; ``issues`` lists every problem found."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = sorted(issues, key=lambda issue: issue.line or 0)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"{source}: {len(issues)} configuration error(s):\n{lines}")


@dataclass(frozen=True, slots=True)
class TagFilter:
    include: tuple[re.Pattern[str], ...] = (re.compile(".*"),)
    exclude: tuple[re.Pattern[str], ...] = ()
    limit: int = 20

    def matches(self, tag: str) -> bool:
        """True if some include pattern and no exclude pattern is found in the tag."""
        return any(p.search(tag) for p in self.include) and not any(
            p.search(tag) for p in self.exclude
        )


@dataclass(frozen=True, slots=True)
class WatchSettings:
    interval: float = 60.0
    settled_interval: float = 3600.0
    platforms: frozenset[Platform] = frozenset()
    stall_after: float = 1800.0
    tags: TagFilter = field(default_factory=TagFilter)


@dataclass(frozen=True, slots=True)
class Watch:
    image: ImageReference
    settings: WatchSettings

    @property
    def registry(self) -> str:
        return self.image.registry

    @property
    def repository(self) -> str:
        return self.image.repository


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    host: str
    insecure: bool = False
    username: str | None = None
    password: Secret | None = None
    concurrency: int = 4
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class Config:
    listen: str = DEFAULT_LISTEN
    state_file: str = "archlag.db"
    latency_buckets: tuple[float, ...] = DEFAULT_LATENCY_BUCKETS
    defaults: WatchSettings = field(default_factory=WatchSettings)
    registries: dict[str, RegistrySettings] = field(default_factory=dict)
    watches: tuple[Watch, ...] = ()

    def registry(self, host: str) -> RegistrySettings:
        """Settings for a registry host; anonymous HTTPS when the file names none."""
        return self.registries.get(host) or RegistrySettings(host)


def split_listen_address(address: str) -> tuple[str, int]:
    """Split ``host:port`` (``[::1]:10043``, ``:10043`` meaning all interfaces).

    Raises:
        ValueError: not ``host:port`` with a port from 1 to 65535.
    """
    match = _LISTEN.match(address.strip())
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ValueError(f"{address!r} is not host:port (for example 0.0.0.0:10043 or [::1]:10043)")
    return match["host"].strip("[]") or "0.0.0.0", int(match["port"])  # noqa: S104


def load_config(path: str | Path, environ: dict[str, str] | None = None) -> Config:
    """Read and validate a configuration file.

    Raises:
        ConfigError: the file cannot be read, is not YAML, or has invalid content.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [ConfigIssue("", None, f"cannot read: {exc}")]) from None
    return parse_config(text, str(path), os.environ if environ is None else environ)


def parse_config(text: str, source: str = "<config>", environ: Any = None) -> Config:
    """Validate configuration text; see :func:`load_config`."""
    reader = _Reader(os.environ if environ is None else environ)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, [ConfigIssue("", line, f"not valid YAML: {problem}")]) from None
    config = reader.config(root)
    if reader.issues or config is None:
        raise ConfigError(source, reader.issues or [ConfigIssue("", None, "empty configuration")])
    return config


_Node = yaml.Node


class _Reader:
    """Walks the composed YAML node tree, converting values and collecting issues."""

    def __init__(self, environ: Any) -> None:
        self.issues: list[ConfigIssue] = []
        self._environ = environ
        self._scalars = yaml.constructor.SafeConstructor()

    def error(self, path: str, node: _Node | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.issues.append(ConfigIssue(path, line, message))

    # -- generic shapes -------------------------------------------------------------------------

    def mapping(self, node: _Node, path: str, allowed: set[str]) -> dict[str, _Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.error(path, node, "must be a mapping (key: value)")
            return None
        result: dict[str, _Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            sub = _join(path, str(key))
            if key is None:
                self.error(path, key_node, "keys must be plain strings")
            elif key in result:
                self.error(sub, key_node, "duplicate key")
            elif allowed and key not in allowed:
                known = ", ".join(sorted(allowed))
                self.error(sub, key_node, f"unknown key (known keys: {known})")
            else:
                result[key] = value_node
        return result

    def scalar(self, node: _Node, path: str, kind: type[T], what: str) -> T | None:
        value = self._scalars.construct_object(node) if isinstance(node, yaml.ScalarNode) else node
        # bool is an int in Python; a YAML "true" where a number belongs is still an error.
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        self.error(path, node, f"must be {what}")
        return None

    def items(self, node: _Node, path: str) -> Iterator[tuple[str, _Node]]:
        if not isinstance(node, yaml.SequenceNode):
            self.error(path, node, "must be a list")
            return
        for index, item in enumerate(node.value):
            yield f"{path}[{index}]", item

    def each(self, node: _Node, path: str, convert: Callable[[str, str, _Node], T]) -> list[T]:
        results = []
        for sub, item in self.items(node, path):
            text = self.scalar(item, sub, str, "a string")
            if text is None:
                continue
            try:
                results.append(convert(text, sub, item))
            except ValueError as exc:
                self.error(sub, item, str(exc))
        return results

    def duration(self, node: _Node, path: str) -> float | None:
        value = self._scalars.construct_object(node) if isinstance(node, yaml.ScalarNode) else None
        if value == 0 and not isinstance(value, bool):
            return 0.0
        if not isinstance(value, str):
            self.error(path, node, "must be a duration with a unit, like 30s, 5m or 1h")
            return None
        try:
            return parse_duration(value)
        except DurationError as exc:
            self.error(path, node, str(exc))
            return None

    # -- sections -------------------------------------------------------------------------------

    def config(self, root: _Node | None) -> Config | None:
        if root is None:
            return None
        top = self.mapping(
            root,
            "",
            {"listen", "state_file", "latency_buckets", "defaults", "registries", "watches"},
        )
        if top is None:
            return None
        values: dict[str, Any] = {}
        if "listen" in top and (listen := self.scalar(top["listen"], "listen", str, "a string")):
            try:
                split_listen_address(listen)
                values["listen"] = listen
            except ValueError as exc:
                self.error("listen", top["listen"], str(exc))
        if "state_file" in top:
            state = self.scalar(top["state_file"], "state_file", str, "a path or :memory:")
            if state:
                values["state_file"] = state
        if "latency_buckets" in top and (buckets := self.buckets(top["latency_buckets"])):
            values["latency_buckets"] = buckets
        defaults = WatchSettings()
        if "defaults" in top:
            defaults = self.watch_settings(top["defaults"], "defaults", defaults)
        if "registries" in top:
            values["registries"] = self.registries(top["registries"])
        watches: tuple[Watch, ...] = ()
        if "watches" in top:
            watches = self.watches(top["watches"], defaults)
        if not watches and "watches" not in top:
            self.error("watches", root, "is required: list the images to watch")
        return Config(defaults=defaults, watches=watches, **values)

    def buckets(self, node: _Node) -> tuple[float, ...] | None:
        values = [self.duration(item, sub) for sub, item in self.items(node, "latency_buckets")]
        if not values or None in values:
            if not values:
                self.error("latency_buckets", node, "must list at least one duration")
            return None
        floats = [v for v in values if v is not None]
        if any(b <= a for a, b in pairwise(floats)):
            self.error("latency_buckets", node, "must be in strictly increasing order")
            return None
        return tuple(floats)

    def watch_settings(self, node: _Node, path: str, base: WatchSettings) -> WatchSettings:
        allowed = {"interval", "settled_interval", "platforms", "stall_after", "tags"}
        fields = self.mapping(node, path, allowed) or {}
        values: dict[str, Any] = {}
        for name in ("interval", "settled_interval", "stall_after"):
            if name in fields:
                seconds = self.duration(fields[name], _join(path, name))
                if seconds is not None and name != "stall_after" and seconds <= 0:
                    self.error(_join(path, name), fields[name], "must be longer than 0s")
                elif seconds is not None:
                    values[name] = seconds
        if "platforms" in fields:
            values["platforms"] = frozenset(
                self.each(fields["platforms"], _join(path, "platforms"), _platform)
            )
        if "tags" in fields:
            values["tags"] = self.tag_filter(fields["tags"], _join(path, "tags"), base.tags)
        return _replace(base, values)

    def tag_filter(self, node: _Node, path: str, base: TagFilter) -> TagFilter:
        fields = self.mapping(node, path, {"include", "exclude", "limit"}) or {}
        values: dict[str, Any] = {}
        for name in ("include", "exclude"):
            if name in fields:
                values[name] = tuple(self.each(fields[name], _join(path, name), _regex))
        include = fields.get("include")
        if isinstance(include, yaml.SequenceNode) and not include.value:
            self.error(_join(path, "include"), fields["include"], "must list at least one regex")
        if "limit" in fields:
            limit = self.scalar(fields["limit"], _join(path, "limit"), int, "a whole number")
            if limit is not None and limit < 1:
                self.error(_join(path, "limit"), fields["limit"], "must be at least 1")
            elif limit is not None:
                values["limit"] = limit
        return _replace(base, values)

    def registries(self, node: _Node) -> dict[str, RegistrySettings]:
        result: dict[str, RegistrySettings] = {}
        for host, value in (self.mapping(node, "registries", set()) or {}).items():
            path = f"registries.{host}"
            canonical = _HUB_ALIASES.get(host, host)
            if not _HOST.match(host):
                self.error(path, value, "is not a registry host such as ghcr.io or 127.0.0.1:5000")
            elif canonical in result:
                self.error(path, value, f"duplicates the settings of {canonical}")
            else:
                result[canonical] = self.registry(value, path, canonical)
        return result

    def registry(self, node: _Node, path: str, host: str) -> RegistrySettings:
        allowed = {
            "insecure", "username", "password", "password_env", "password_file",
            "concurrency", "timeout",
        }  # fmt: skip
        fields = self.mapping(node, path, allowed) or {}
        values: dict[str, Any] = {}
        if "insecure" in fields:
            values["insecure"] = self.scalar(
                fields["insecure"], f"{path}.insecure", bool, "true or false"
            )
        if "concurrency" in fields:
            count = self.scalar(fields["concurrency"], f"{path}.concurrency", int, "a whole number")
            if count is not None and not 1 <= count <= 64:
                self.error(f"{path}.concurrency", fields["concurrency"], "must be from 1 to 64")
            elif count is not None:
                values["concurrency"] = count
        if "timeout" in fields:
            timeout = self.duration(fields["timeout"], f"{path}.timeout")
            if timeout is not None and timeout <= 0:
                self.error(f"{path}.timeout", fields["timeout"], "must be longer than 0s")
            elif timeout is not None:
                values["timeout"] = timeout
        values.update(self.credentials(fields, path))
        return RegistrySettings(host, **{k: v for k, v in values.items() if v is not None})

    def credentials(self, fields: dict[str, _Node], path: str) -> dict[str, Any]:
        if "password" in fields:
            self.error(
                f"{path}.password",
                fields["password"],
                "inline passwords are not accepted: use password_env or password_file",
            )
        sources = [k for k in ("password_env", "password_file") if k in fields]
        username = None
        if "username" in fields:
            username = self.scalar(fields["username"], f"{path}.username", str, "a string")
        if len(sources) > 1:
            self.error(path, fields[sources[1]], "set only one of password_env and password_file")
            return {}
        if bool(sources) != ("username" in fields):
            node = fields["username"] if "username" in fields else fields[sources[0]]
            self.error(path, node, "username and one of password_env/password_file go together")
            return {}
        if not sources:
            return {}
        key = sources[0]
        name = self.scalar(fields[key], f"{path}.{key}", str, "a string")
        if name is None:
            return {}
        secret = self.read_secret(key, name, f"{path}.{key}", fields[key])
        return {"username": username, "password": secret} if secret else {}

    def read_secret(self, key: str, name: str, path: str, node: _Node) -> Secret | None:
        if key == "password_env":
            value = self._environ.get(name)
            if not value:
                self.error(path, node, f"environment variable {name} is not set or empty")
                return None
            return Secret(value)
        try:
            value = Path(name).read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            self.error(path, node, f"cannot read password file: {exc.__class__.__name__}")
            return None
        if not value:
            self.error(path, node, "password file is empty")
            return None
        return Secret(value)

    def watches(self, node: _Node, defaults: WatchSettings) -> tuple[Watch, ...]:
        watches: list[Watch] = []
        seen: dict[tuple[str, str], str] = {}
        for path, item in self.items(node, "watches"):
            fields = self.mapping(item, path, {"image", *_WATCH_KEYS}) or {}
            if "image" not in fields:
                if isinstance(item, yaml.MappingNode):
                    self.error(path, item, "needs an image")
                continue
            text = self.scalar(fields["image"], f"{path}.image", str, "an image reference")
            settings_node = yaml.MappingNode(
                "tag:yaml.org,2002:map",
                [(k, v) for k, v in item.value if getattr(k, "value", None) in _WATCH_KEYS],
                start_mark=item.start_mark,
            )
            settings = self.watch_settings(settings_node, path, defaults)
            if text is None:
                continue
            try:
                image = parse_reference(text, allow_tag=False)
            except ImageReferenceError as exc:
                self.error(f"{path}.image", fields["image"], str(exc))
                continue
            key = (image.registry, image.repository)
            if key in seen:
                self.error(
                    f"{path}.image", fields["image"], f"{image} is already watched ({seen[key]})"
                )
                continue
            seen[key] = path
            watches.append(Watch(image, settings))
        return tuple(watches)


_WATCH_KEYS = {"interval", "settled_interval", "platforms", "stall_after", "tags"}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _platform(text: str, _path: str, _node: _Node) -> Platform:
    try:
        return parse_platform(text)
    except PlatformError as exc:
        raise ValueError(str(exc)) from None


def _regex(text: str, _path: str, _node: _Node) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise ValueError(f"{text!r} is not a valid regular expression: {exc}") from None


def _replace(base: T, values: dict[str, Any]) -> T:
    return replace(base, **values)  # type: ignore[type-var]
