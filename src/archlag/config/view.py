"""The loaded configuration written back as YAML that the loader accepts, for ``/-/config``.

Like blackbox_exporter's ``/config`` page: it shows what archlag actually runs with (defaults
filled in, durations normalised, registry aliases merged), so a user can check that the file was
read the way they meant, and can save the page as a configuration file: ``archlag
--config.check`` accepts it as it is, and loading it gives the same configuration.

The dataclass tree is walked generically, so a setting added to the config dataclasses shows up
here without a change: durations are written as durations, platforms as ``os/arch[/variant]``,
tag patterns as their source text. A secret is written as the reference it was read from
(``password_env: NAME``, ``token_file: PATH``), never as its value; one set in code, with no
reference, is written as ``<secret>`` (which the loader refuses, as it refuses every inline
secret).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import yaml

from archlag.config.settings import Config, RegistrySettings, SecretRef, Watch
from archlag.core.durations import format_duration
from archlag.secrets import Secret

REDACTED = "<secret>"
# Number settings that hold seconds, written in the file's own duration syntax.
_DURATIONS = frozenset({
    "interval", "settled_interval", "stall_after", "timeout", "max_backoff", "latency_buckets",
    "grace",
    "min", "max",  # lateness
})  # fmt: skip
_NOT_WRITTEN = frozenset({"host"})  # of a registry: its host is its key in `registries`


def render_config(config: Config) -> str:
    header = (
        f"# archlag runs with this configuration: valid, {len(config.watches)} watches.\n"
        "# Defaults are filled in and secrets are redacted: each is shown as the environment\n"
        "# variable or file it is read from.\n"
    )
    return header + yaml.dump(_plain(config, ""), Dumper=_Dumper, sort_keys=False)


class _Dumper(yaml.SafeDumper):
    """Mappings as blocks, lists of scalars on one line: ``platforms: [linux/amd64, ...]``."""

    def represent_dict(self, data: Any) -> yaml.MappingNode:
        return self.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=False)

    def represent_list(self, data: Any) -> yaml.SequenceNode:
        flow = not any(isinstance(item, dict | list) for item in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(dict, _Dumper.represent_dict)
_Dumper.add_representer(list, _Dumper.represent_list)


def _plain(value: Any, name: str) -> Any:
    """YAML-safe values in the loader's shapes."""
    if isinstance(value, Watch):  # flat, as written: the image and its settings
        return {"image": str(value.image), **_settings(value.settings)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _settings(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, str(k)) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item, name) for item in value]
    return _scalar(value, name)


def _scalar(value: Any, name: str) -> Any:
    result: Any = str(value)  # paths, image references, platforms
    if isinstance(value, frozenset | set):
        result = sorted(str(item) for item in value)
    elif isinstance(value, int | float) and not isinstance(value, bool) and name in _DURATIONS:
        result = format_duration(value, exact=True)
    elif isinstance(value, bool | int | float | str):
        result = value
    return result


def _settings(value: Any) -> dict[str, Any]:
    """A dataclass's public fields; None is left out (the loader's default), secrets referenced."""
    result: dict[str, Any] = {}
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        unwritten = field.name in _NOT_WRITTEN and isinstance(value, RegistrySettings)
        if field.name.startswith("_") or unwritten or item is None:
            continue
        if isinstance(item, SecretRef):
            result[item.key] = item.name
        elif isinstance(item, Secret):
            if getattr(value, f"{field.name}_from", None) is None:
                result[field.name] = REDACTED  # set in code: there is no reference to show
        else:
            result[field.name] = _plain(item, field.name)
    return result
