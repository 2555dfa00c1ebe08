"""Reading the configuration file: YAML nodes in, validated values out, all issues collected.

:func:`load_config` and :func:`parse_config` raise only
:class:`~archlag.config.settings.ConfigError`, carrying every
:class:`~archlag.config.settings.ConfigIssue` (key path and line each), whatever the file holds:
its size, depth and node count are bounded (:mod:`archlag.config.yaml_source`), and so is every
number in it (:mod:`archlag.config.bounds`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import yaml

from archlag.config import bounds
from archlag.config.discovery_section import read_discovery
from archlag.config.lateness_settings import read_lateness
from archlag.config.nodes import Node, NodeReader, join
from archlag.config.receivers import read_receivers
from archlag.config.registries import read_registries
from archlag.config.settings import (
    Config,
    ConfigError,
    ConfigIssue,
    Watch,
    WatchSettings,
    split_listen_address,
)
from archlag.config.tag_filter import TagFilter, TagPatternError, tag_pattern_problem
from archlag.config.yaml_source import compose
from archlag.core.platform_tags import template_problem
from archlag.core.platforms import Platform, PlatformError, parse_platform
from archlag.core.references import ImageReferenceError, parse_reference

T = TypeVar("T")
TOP_LEVEL_KEYS = frozenset({
    "listen", "state_file", "latency_buckets", "defaults", "registries", "watches", "receivers",
    "events_listen", "discovery",
})  # fmt: skip
WATCH_KEYS = frozenset({
    "interval", "settled_interval", "platforms", "stall_after", "tags", "platform_tags", "backfill",
    "lateness",
})  # fmt: skip


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a configuration file.

    Raises:
        ConfigError: the file cannot be read, is larger than
            :data:`~archlag.config.bounds.MAX_CONFIG_BYTES`, is not YAML, or has invalid content.
    """
    try:
        with Path(path).open("rb") as file:
            data = file.read(bounds.MAX_CONFIG_BYTES + 1)
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [ConfigIssue("", None, f"cannot read: {exc}")]) from None
    return parse_config(text, str(path), os.environ if environ is None else environ)


def parse_config(
    text: str, source: str = "<config>", environ: Mapping[str, str] | None = None
) -> Config:
    """Validate configuration text; see :func:`load_config`."""
    root = compose(text, source)
    reader = _Reader(os.environ if environ is None else environ)
    config = reader.config(root)
    if reader.issues or config is None:
        raise ConfigError(source, reader.issues or [ConfigIssue("", None, "empty configuration")])
    return config


class _Reader(NodeReader):
    """Walks the composed YAML node tree section by section."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__()
        self._environ = environ

    def config(self, root: Node | None) -> Config | None:
        if root is None:
            return None
        top = self.mapping(root, "", set(TOP_LEVEL_KEYS))
        if top is None:
            return None
        values = self.addresses(top)
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
            values["registries"] = read_registries(self, top["registries"], self._environ)
        if "receivers" in top:
            values["receivers"] = read_receivers(self, top["receivers"], self._environ)
        if "discovery" in top:
            values["discovery"] = read_discovery(
                self, top["discovery"], defaults, self.watch_settings
            )
        watches: tuple[Watch, ...] = ()
        if "watches" in top:
            watches = self.watches(top["watches"], defaults)
        if not watches and "watches" not in top and "discovery" not in top:
            self.error("watches", root, "is required: list the images to watch, or discover them")
        return Config(defaults=defaults, watches=watches, **values)

    def addresses(self, top: dict[str, Node]) -> dict[str, Any]:
        """``listen`` and ``events_listen``, each ``host:port``."""
        values: dict[str, Any] = {}
        for key in ("listen", "events_listen"):
            if key in top and (listen := self.scalar(top[key], key, str, "a string")):
                try:
                    split_listen_address(listen)
                    values[key] = listen
                except ValueError as exc:
                    self.error(key, top[key], str(exc))
        return values

    def buckets(self, node: Node) -> tuple[float, ...] | None:
        path, high = "latency_buckets", bounds.MAX_SETTING_SECONDS
        if isinstance(node, yaml.SequenceNode) and not node.value:
            self.error(path, node, "must list at least one duration")
            return None
        items = list(self.items(node, path, bounds.MAX_LATENCY_BUCKETS))
        values = [self.duration(item, sub, high) for sub, item in items]
        buckets = tuple(v for v in values if v is not None)
        if not items or len(buckets) != len(items):
            return None  # the list, or an item, is reported already
        if any(b <= a for a, b in pairwise(buckets)):
            self.error(path, node, "must be in strictly increasing order")
            return None
        return buckets

    def watch_settings(self, node: Node, path: str, base: WatchSettings) -> WatchSettings:
        fields = self.mapping(node, path, set(WATCH_KEYS)) or {}
        high = bounds.MAX_SETTING_SECONDS
        values: dict[str, Any] = {
            "interval": self.bounded_duration(fields, path, "interval", high, positive=True),
            "settled_interval": self.bounded_duration(
                fields, path, "settled_interval", high, positive=True
            ),
            "stall_after": self.bounded_duration(fields, path, "stall_after", high, positive=False),
        }
        if "platforms" in fields:
            platforms = self.each(
                fields["platforms"], join(path, "platforms"), _platform, bounds.MAX_PLATFORMS
            )
            values["platforms"] = frozenset(platforms)
        if "tags" in fields:
            values["tags"] = self.tag_filter(fields["tags"], join(path, "tags"), base.tags)
        if "lateness" in fields:
            sub = join(path, "lateness")
            values["lateness"] = read_lateness(self, fields["lateness"], sub, base.lateness)
        if "backfill" in fields:
            values["backfill"] = self.scalar(
                fields["backfill"], join(path, "backfill"), bool, "true or false"
            )
        if "platform_tags" in fields:
            node, sub = fields["platform_tags"], join(path, "platform_tags")
            template = self.scalar(node, sub, str, "a template such as '{tag}-{arch}'")
            problem = template_problem(template) if template is not None else None
            if problem:
                self.error(sub, node, problem)
            elif template is not None:
                values["platform_tags"] = template
        return _replace(base, {k: v for k, v in values.items() if v is not None})

    def tag_filter(self, node: Node, path: str, base: TagFilter) -> TagFilter:
        fields = self.mapping(node, path, {"include", "exclude", "limit"}) or {}
        values: dict[str, Any] = {}
        for name in ("include", "exclude"):
            if name in fields:
                sub = join(path, name)
                patterns = self.each(fields[name], sub, _tag_pattern, bounds.MAX_PATTERNS)
                values[name] = tuple(patterns)
        include = fields.get("include")
        if isinstance(include, yaml.SequenceNode) and not include.value:
            self.error(join(path, "include"), include, "must list at least one regex")
        limit = self.bounded_int(fields, path, "limit", bounds.TAG_LIMIT)
        if limit is not None:
            values["limit"] = limit
        try:
            return _replace(base, values)
        except TagPatternError as exc:  # each pattern runs, but together they are too large
            self.error(path, node, f"the patterns together cannot be used: {exc}")
            return base

    def watches(self, node: Node, defaults: WatchSettings) -> tuple[Watch, ...]:
        watches: list[Watch] = []
        seen: dict[tuple[str, str], str] = {}
        for path, item in self.items(node, "watches"):
            fields = self.mapping(item, path, {"image", *WATCH_KEYS}) or {}
            if "image" not in fields:
                if isinstance(item, yaml.MappingNode):
                    self.error(path, item, "needs an image")
                continue
            text = self.scalar(fields["image"], f"{path}.image", str, "an image reference")
            settings_node = yaml.MappingNode(
                "tag:yaml.org,2002:map",
                [(k, v) for k, v in item.value if getattr(k, "value", None) in WATCH_KEYS],
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


def _platform(text: str) -> Platform:
    try:
        return parse_platform(text)
    except PlatformError as exc:
        raise ValueError(str(exc)) from None


def _tag_pattern(text: str) -> str:
    problem = tag_pattern_problem(text)
    if problem is not None:
        raise ValueError(f"{text[:100]!r} cannot be used as a tag pattern: {problem}")
    return text


def _replace(base: T, values: dict[str, Any]) -> T:
    return replace(base, **values)  # type: ignore[type-var]
