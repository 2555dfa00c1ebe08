"""The configuration values: a frozen dataclass tree, validated all at once when it is loaded.

:func:`~archlag.config.loader.load_config` raises :class:`ConfigError`, which carries every
:class:`ConfigIssue` found (key path and line number each), so a user fixes the whole file in
one go. Secrets come only from ``*_env`` and ``*_file`` keys or a Docker config file and are
held in :class:`~archlag.secrets.Secret`, so they never show up in a repr or a message; a
:class:`SecretRef` beside each says where it was read from, so the configuration can be written
back without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from archlag.config.bounds import MAX_REPORTED_ISSUES
from archlag.config.tag_filter import TagFilter
from archlag.core.lateness import LatenessSettings
from archlag.core.platforms import Platform
from archlag.core.references import ImageReference
from archlag.secrets import Secret

DEFAULT_LISTEN = "0.0.0.0:10043"  # an exporter listens on all interfaces by default
DEFAULT_LATENCY_BUCKETS: tuple[float, ...] = (
    0, 30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 10800, 21600, 43200, 86400,
)  # fmt: skip
_LISTEN = re.compile(r"(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):(?P<port>[0-9]{1,5})")


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        """One line: keys and values from the file have their control characters escaped."""
        where = f"line {self.line}: " if self.line else ""
        return _one_line(f"{where}{self.path or '(top level)'}: {self.message}")


class ConfigError(Exception):
    """The configuration is invalid; ``issues`` lists every problem found.

    The message has one line per issue, the first :data:`MAX_REPORTED_ISSUES` of them.
    """

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = sorted(issues, key=lambda issue: issue.line or 0)
        lines = [f"  {issue}" for issue in self.issues[:MAX_REPORTED_ISSUES]]
        if len(self.issues) > MAX_REPORTED_ISSUES:
            lines.append(f"  ... and {len(self.issues) - MAX_REPORTED_ISSUES} more")
        text = "\n".join(lines)
        super().__init__(f"{_one_line(source)}: {len(issues)} configuration error(s):\n{text}")


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret is read from: ``key`` names the setting, ``name`` the variable or file.

    ``key`` is one of ``password_env``, ``password_file``, ``token_env``, ``token_file``.
    """

    key: str
    name: str


@dataclass(frozen=True, slots=True)
class WatchSettings:
    interval: float = 60.0
    settled_interval: float = 3600.0
    platforms: frozenset[Platform] = frozenset()
    stall_after: float = 1800.0
    tags: TagFilter = field(default_factory=TagFilter)
    platform_tags: str | None = None  # e.g. "{tag}-{arch}": per-arch tags are platforms of {tag}
    backfill: bool = False  # estimate history of baseline tags from image config `created`
    # when a missing platform is late, from the repository's own history (core.lateness)
    lateness: LatenessSettings = field(default_factory=LatenessSettings)


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
    password_from: SecretRef | None = None  # where password was read (None: set in code)
    token: Secret | None = None  # a bearer token sent as is
    token_from: SecretRef | None = None
    docker_config: Path | None = None  # a Docker config.json (auths, credHelpers, credsStore)
    concurrency: int = 4
    timeout: float = 30.0
    requests_per_minute: int | None = None
    max_backoff: float = 3600.0
    hub_api: bool = False  # docker.io only: per-platform push times from the Hub API
    quay_api: bool = False  # quay.io only: tag push times from Quay's API


RECEIVER_TYPES = ("distribution", "harbor", "dockerhub", "quay", "github", "generic")
DEFAULT_EVENTS_PER_SECOND = 20


@dataclass(frozen=True, slots=True)
class Receiver:
    """A push-event receiver, served at ``POST /events/<name>`` (see :mod:`archlag.events`)."""

    name: str
    type: str  # one of RECEIVER_TYPES
    secret: Secret
    secret_from: SecretRef | None = None
    registry: str | None = None  # the registry its events are about; None: from each payload
    events_per_second: int = DEFAULT_EVENTS_PER_SECOND  # accepted events, more answer 429


DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DEFAULT_MAX_IMAGES = 500  # discovered repositories (each becomes a watch)


@dataclass(frozen=True, slots=True)
class KubernetesDiscovery:
    """Pods of a cluster (see :mod:`archlag.discovery`); read by ``config.discovery_section``."""

    kubeconfig: Path | None = None  # None: the in-cluster service account
    namespaces: tuple[str, ...] = ()  # empty: all; "!name" excludes one (then all are excludes)


@dataclass(frozen=True, slots=True)
class DockerDiscovery:
    host: str = DEFAULT_DOCKER_HOST  # unix:///path or tcp://host:port (Docker or Podman)
    include_stopped: bool = False  # created and exited containers too


@dataclass(frozen=True, slots=True)
class FilesDiscovery:
    paths: tuple[Path, ...] = ()  # Compose files, Dockerfiles, Kubernetes manifests, or folders
    platforms: frozenset[Platform] = frozenset()  # what they run on where they do not say


@dataclass(frozen=True, slots=True)
class DiscoverySettings:
    """The ``discovery`` section; a source runs when its key is present. Compares by value, so a
    reload can tell which source changed."""

    interval: float = 60.0  # files and the Docker API are read again this often
    grace: float = 3600.0  # an image that stopped running is dropped after this
    kubernetes: KubernetesDiscovery | None = None
    docker: DockerDiscovery | None = None
    files: FilesDiscovery | None = None
    watch_by_default: bool = True  # False: only workloads marked archlag.io/watch: "true"
    max_images: int = DEFAULT_MAX_IMAGES
    defaults: WatchSettings = field(default_factory=WatchSettings)  # for discovered watches


@dataclass(frozen=True, slots=True)
class Config:
    listen: str = DEFAULT_LISTEN
    state_file: str = "archlag.db"
    latency_buckets: tuple[float, ...] = DEFAULT_LATENCY_BUCKETS
    defaults: WatchSettings = field(default_factory=WatchSettings)
    registries: dict[str, RegistrySettings] = field(default_factory=dict)
    watches: tuple[Watch, ...] = ()
    receivers: tuple[Receiver, ...] = ()
    events_listen: str | None = None  # a separate address for /events; None: the main one
    discovery: DiscoverySettings | None = None  # None: only the configured watches

    def registry(self, host: str) -> RegistrySettings:
        """Settings for a registry host; anonymous HTTPS when the file names none."""
        return self.registries.get(host) or RegistrySettings(host)


def split_listen_address(address: str) -> tuple[str, int]:
    """Split ``host:port`` (``[::1]:10043``, ``:10043`` meaning all interfaces).

    Raises:
        ValueError: not ``host:port`` with a port from 1 to 65535.
    """
    match = _LISTEN.fullmatch(address.strip())
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ValueError(f"{address!r} is not host:port (for example 0.0.0.0:10043 or [::1]:10043)")
    return match["host"].strip("[]") or "0.0.0.0", int(match["port"])  # noqa: S104
