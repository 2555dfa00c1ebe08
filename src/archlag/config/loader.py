"""Reading the configuration file: YAML nodes in, validated values out, all issues collected.

:func:`load_config` and :func:`parse_config` raise :class:`~archlag.config.model.ConfigError`
carrying every :class:`~archlag.config.model.ConfigIssue` (key path and line each).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import yaml

from archlag.config.model import (
    Config,
    ConfigError,
    ConfigIssue,
    RegistrySettings,
    SecretRef,
    Watch,
    WatchSettings,
    split_listen_address,
)
from archlag.config.secrets_reader import SecretProblem, read_secret
from archlag.config.tag_filter import TagFilter, TagPatternError, tag_pattern_problem
from archlag.durations import DurationError, parse_duration
from archlag.platform_tags import template_problem
from archlag.platforms import Platform, PlatformError, parse_platform
from archlag.reference import DOCKER_HUB, ImageReferenceError, parse_reference
from archlag.secrets import Secret

T = TypeVar("T")
_HUB_ALIASES = {"index.docker.io": DOCKER_HUB, "registry-1.docker.io": DOCKER_HUB}
_HOST = re.compile(r"(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?")


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
        fields = self.mapping(node, path, _WATCH_KEYS) or {}
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
        if "backfill" in fields:
            values["backfill"] = self.scalar(
                fields["backfill"], _join(path, "backfill"), bool, "true or false"
            )
        if "platform_tags" in fields:
            node, sub = fields["platform_tags"], _join(path, "platform_tags")
            template = self.scalar(node, sub, str, "a template such as '{tag}-{arch}'")
            problem = template_problem(template) if template is not None else None
            if problem:
                self.error(sub, node, problem)
            elif template is not None:
                values["platform_tags"] = template
        return _replace(base, {k: v for k, v in values.items() if v is not None})

    def tag_filter(self, node: _Node, path: str, base: TagFilter) -> TagFilter:
        fields = self.mapping(node, path, {"include", "exclude", "limit"}) or {}
        values: dict[str, Any] = {}
        for name in ("include", "exclude"):
            if name in fields:
                values[name] = tuple(self.each(fields[name], _join(path, name), _tag_pattern))
        include = fields.get("include")
        if isinstance(include, yaml.SequenceNode) and not include.value:
            self.error(_join(path, "include"), fields["include"], "must list at least one regex")
        if "limit" in fields:
            limit = self.scalar(fields["limit"], _join(path, "limit"), int, "a whole number")
            if limit is not None and limit < 1:
                self.error(_join(path, "limit"), fields["limit"], "must be at least 1")
            elif limit is not None:
                values["limit"] = limit
        try:
            return _replace(base, values)
        except TagPatternError as exc:  # each pattern runs, but together they are too large
            self.error(path, node, f"the patterns together cannot be used: {exc}")
            return base

    def registries(self, node: _Node) -> dict[str, RegistrySettings]:
        result: dict[str, RegistrySettings] = {}
        for host, value in (self.mapping(node, "registries", set()) or {}).items():
            path = f"registries.{host}"
            canonical = _HUB_ALIASES.get(host, host)
            if not _HOST.fullmatch(host):
                self.error(path, value, "is not a registry host such as ghcr.io or 127.0.0.1:5000")
            elif canonical in result:
                self.error(path, value, f"duplicates the settings of {canonical}")
            else:
                result[canonical] = self.registry(value, path, canonical)
        return result

    def registry(self, node: _Node, path: str, host: str) -> RegistrySettings:
        fields = self.mapping(node, path, _REGISTRY_KEYS) or {}
        values: dict[str, Any] = {}
        for flag in ("insecure", "hub_api", "quay_api"):
            if flag in fields:
                values[flag] = self.scalar(fields[flag], f"{path}.{flag}", bool, "true or false")
        for api, only in (("hub_api", "docker.io"), ("quay_api", "quay.io")):
            if values.get(api) and host != only:
                self.error(f"{path}.{api}", fields[api], f"only applies to {only}")
        values["concurrency"] = self.bounded_int(fields, path, "concurrency", 1, 64)
        values["requests_per_minute"] = self.bounded_int(
            fields, path, "requests_per_minute", 1, 100_000
        )
        for name in ("timeout", "max_backoff"):
            if name in fields:
                seconds = self.duration(fields[name], f"{path}.{name}")
                if seconds is not None and seconds <= 0:
                    self.error(f"{path}.{name}", fields[name], "must be longer than 0s")
                elif seconds is not None:
                    values[name] = seconds
        values.update(self.credentials(fields, path, node))
        return RegistrySettings(host, **{k: v for k, v in values.items() if v is not None})

    def bounded_int(
        self, fields: dict[str, _Node], path: str, name: str, low: int, high: int
    ) -> int | None:
        if name not in fields:
            return None
        value = self.scalar(fields[name], f"{path}.{name}", int, "a whole number")
        if value is not None and not low <= value <= high:
            self.error(f"{path}.{name}", fields[name], f"must be from {low} to {high}")
            return None
        return value

    def credentials(self, fields: dict[str, _Node], path: str, node: _Node) -> dict[str, Any]:
        """One way to authenticate: username + password, a token, or a Docker config file."""
        if "password" in fields:
            self.error(
                f"{path}.password",
                fields["password"],
                "inline passwords are not accepted: use password_env or password_file",
            )
        kinds = [
            kind
            for kind, keys in (
                ("password", ("username", "password_env", "password_file")),
                ("token", ("token_env", "token_file")),
                ("docker_config", ("docker_config",)),
            )
            if any(k in fields for k in keys)
        ]
        if len(kinds) > 1:
            self.error(path, node, f"choose one way to authenticate, not {' and '.join(kinds)}")
            return {}
        if kinds == ["token"]:
            secret = self.secret_from(fields, path, "token_env", "token_file")
            return {"token": secret} if secret else {}
        if kinds == ["docker_config"]:
            name = self.scalar(fields["docker_config"], f"{path}.docker_config", str, "a path")
            if name is not None and not Path(name).is_file():
                self.error(f"{path}.docker_config", fields["docker_config"], "no such file")
                return {}
            return {"docker_config": Path(name)} if name else {}
        if "username" not in fields:
            if kinds:
                self.error(path, node, "password_env/password_file need a username")
            return {}
        username = self.scalar(fields["username"], f"{path}.username", str, "a string")
        secret = self.secret_from(fields, path, "password_env", "password_file")
        if secret is None and not any(k in fields for k in ("password_env", "password_file")):
            self.error(path, fields["username"], "username needs password_env or password_file")
        return {"username": username, "password": secret} if secret and username else {}

    def secret_from(
        self, fields: dict[str, _Node], path: str, env_key: str, file_key: str
    ) -> Secret | None:
        keys = [k for k in (env_key, file_key) if k in fields]
        if len(keys) != 1:
            if keys:
                self.error(path, fields[keys[1]], f"set only one of {env_key} and {file_key}")
            return None
        key = keys[0]
        name = self.scalar(fields[key], f"{path}.{key}", str, "a string")
        if name is None:
            return None
        try:
            return read_secret(SecretRef(key, name), self._environ)
        except SecretProblem as exc:
            self.error(f"{path}.{key}", fields[key], str(exc))
            return None

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


_WATCH_KEYS = {
    "interval", "settled_interval", "platforms", "stall_after", "tags", "platform_tags", "backfill",
}  # fmt: skip
_REGISTRY_KEYS = {
    "insecure", "username", "password", "password_env", "password_file", "token_env",
    "token_file", "docker_config", "concurrency", "timeout", "requests_per_minute",
    "max_backoff", "hub_api", "quay_api",
}  # fmt: skip


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _platform(text: str, _path: str, _node: _Node) -> Platform:
    try:
        return parse_platform(text)
    except PlatformError as exc:
        raise ValueError(str(exc)) from None


def _tag_pattern(text: str, _path: str, _node: _Node) -> str:
    problem = tag_pattern_problem(text)
    if problem is not None:
        raise ValueError(f"{text[:100]!r} cannot be used as a tag pattern: {problem}")
    return text


def _replace(base: T, values: dict[str, Any]) -> T:
    return replace(base, **values)  # type: ignore[type-var]
