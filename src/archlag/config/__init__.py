"""The configuration: YAML file in, a frozen dataclass tree out, every problem reported at once.

- :mod:`archlag.config.settings`: the values (:class:`Config`, :class:`Watch`, ...) and the error
  :class:`ConfigError`, which carries every :class:`ConfigIssue` (key path and line each).
- :mod:`archlag.config.loader`: :func:`load_config` and :func:`parse_config`, which raise only
  :class:`ConfigError`.
- :mod:`archlag.config.view`: the loaded configuration written back as YAML, for ``/-/config``.

Its helpers: :mod:`~archlag.config.yaml_source` (bounded YAML composition),
:mod:`~archlag.config.nodes` (values out of nodes, issues collected),
:mod:`~archlag.config.registries` (the ``registries`` section),
:mod:`~archlag.config.receivers` (the ``receivers`` section: push-event receivers),
:mod:`~archlag.config.discovery_section` (the ``discovery`` section: what runs, watched),
:mod:`~archlag.config.secrets_reader` (secrets from variables and files),
:mod:`~archlag.config.tag_filter` (RE2 tag filters) and :mod:`~archlag.config.bounds`.
"""

from __future__ import annotations

from archlag.config.loader import load_config, parse_config
from archlag.config.settings import (
    DEFAULT_LATENCY_BUCKETS,
    DEFAULT_LISTEN,
    Config,
    ConfigError,
    ConfigIssue,
    DiscoverySettings,
    DockerDiscovery,
    FilesDiscovery,
    KubernetesDiscovery,
    Receiver,
    RegistrySettings,
    SecretRef,
    Watch,
    WatchSettings,
    split_listen_address,
)
from archlag.config.tag_filter import TagFilter
from archlag.core.platform_tags import template_problem

__all__ = [
    "DEFAULT_LATENCY_BUCKETS", "DEFAULT_LISTEN", "Config", "ConfigError", "ConfigIssue",
    "DiscoverySettings", "DockerDiscovery", "FilesDiscovery", "KubernetesDiscovery", "Receiver",
    "RegistrySettings", "SecretRef", "TagFilter", "Watch", "WatchSettings", "load_config",
    "parse_config", "split_listen_address", "template_problem",
]  # fmt: skip
