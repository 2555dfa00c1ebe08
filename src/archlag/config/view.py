"""The loaded configuration as YAML with every secret redacted, for ``/-/config``.

Like blackbox_exporter's ``/config`` page: it shows what archlag actually runs with (defaults
filled in, durations normalised, registry aliases merged), so a user can check that the file was
read the way they meant. The tree is walked generically, so a setting added to the config
dataclasses shows up here without a change; every :class:`~archlag.secrets.Secret`, wherever it
sits, is written as ``<secret>``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import yaml

from archlag.config.model import Config
from archlag.durations import format_duration
from archlag.secrets import Secret

REDACTED = "<secret>"
# Float settings that hold seconds, shown in the file's own duration syntax.
_DURATIONS = frozenset(
    {"interval", "settled_interval", "stall_after", "timeout", "max_backoff", "latency_buckets"}
)


def render_config(config: Config) -> str:
    header = (
        f"# archlag runs with this configuration: valid, {len(config.watches)} watches.\n"
        "# Defaults are filled in and secrets are redacted.\n"
    )
    return header + yaml.safe_dump(_plain(config, ""), sort_keys=False, default_flow_style=None)


def _plain(value: Any, name: str) -> Any:
    """YAML-safe values: dataclasses become mappings, secrets are redacted."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "image") and hasattr(value, "settings"):  # a watch, flat as written
            return {"image": str(value.image), **_plain(value.settings, "settings")}
        return {f.name: _plain(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v, str(k)) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item, name) for item in value]
    return _scalar(value, name)


def _scalar(value: Any, name: str) -> Any:
    result: Any = str(value)  # paths, image references, platforms
    if isinstance(value, Secret):
        result = REDACTED
    elif isinstance(value, frozenset | set):
        result = sorted(str(item) for item in value)
    elif isinstance(value, float) and name in _DURATIONS:
        result = format_duration(value)
    elif value is None or isinstance(value, bool | int | float | str):
        result = value
    return result
