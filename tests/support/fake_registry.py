"""An in-memory registry (a fake TagSource) and a poller over it with a real store.

:class:`FakeRegistry` holds the tags of one repository and counts requests; :func:`make_poller`
builds the poller of ``demo/app`` on it from what a store holds, as the exporter does at start;
:func:`first_poll` is the usual start of a test: 1.0 published whole, polled once. Time is a
:class:`Clock` the test moves. Used by the poller tests and by the store and handoff
tests that need a real history.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archlag.config import Watch, WatchSettings
from archlag.core.platforms import Platform, parse_platform
from archlag.core.publication import Content
from archlag.core.references import parse_reference
from archlag.polling.poller import WatchPoller, load_state
from archlag.registry import (
    BadResponseError,
    NotFoundError,
    RegistryConnectionError,
    UnauthorizedError,
)
from archlag.registry.errors import UnsupportedManifestError

AMD, ARM, V7 = (parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7"))
BOTH = frozenset({AMD, ARM})
BUCKETS = (0.0, 30.0, 60.0, 300.0, 1800.0)


@dataclass
class FakeRegistry:
    """Tags of one repository: tag -> platform -> manifest digest. Counts requests."""

    tags: dict[str, dict[Platform, str]] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)  # top-level digests, if not derived
    down: bool = False
    missing: bool = False  # the repository does not exist (404 NAME_UNKNOWN)
    denied: bool = False  # the repository refuses archlag (401/403 on its tag list)
    refused: bool = False  # the registry refuses archlag's credentials (GET /v2/ too)
    listings: list[list[str]] = field(default_factory=list)  # odd listings to answer first
    broken: set[str] = field(default_factory=set)  # tags whose manifests are unreadable
    heads: int = 0
    gets: int = 0
    pushed: dict[str, dict[Platform, float]] = field(default_factory=dict)
    built: dict[str, dict[Platform, float]] = field(default_factory=dict)
    unsupported: set[str] = field(default_factory=set)
    tag_pushed: dict[str, float] = field(default_factory=dict)

    def publish(self, tag: str, *platforms: Platform, build: str = "1") -> None:
        self.tags[tag] = {p: f"sha256:{tag}-{p}-{build}".replace("/", "_") for p in platforms}

    def _digest(self, tag: str) -> str:
        return self.digests.get(tag) or "sha256:" + "+".join(sorted(self.tags[tag].values()))

    async def list_tags(self, repository: str) -> list[str]:
        if self.down:
            raise RegistryConnectionError("connection refused", registry="127.0.0.1:5000")
        if self.missing:
            raise NotFoundError("NAME_UNKNOWN: repository name not known", registry="r")
        if self.denied or self.refused:
            raise UnauthorizedError("HTTP 401: UNAUTHORIZED: authentication required", registry="r")
        if self.listings:
            return self.listings.pop(0)
        return list(self.tags)

    async def head_digest(self, repository: str, tag: str) -> str | None:
        self.heads += 1
        if self.down:
            raise RegistryConnectionError("connection refused", registry="127.0.0.1:5000")
        if tag not in self.tags:
            raise NotFoundError("manifest unknown", registry="127.0.0.1:5000")
        return self._digest(tag)

    async def fetch(
        self, repository: str, tag: str, digest: str | None, *, with_created: bool = False
    ) -> Content:
        self.gets += 1
        if self.down:
            raise RegistryConnectionError("connection refused", registry="127.0.0.1:5000")
        if tag in self.unsupported:
            raise UnsupportedManifestError("schema 1", reason="schema1", registry="127.0.0.1:5000")
        if tag in self.broken:
            raise BadResponseError("manifest is not JSON", registry="127.0.0.1:5000")
        built = self.built.get(tag, {}) if with_created else {}
        return Content(self._digest(tag), dict(self.tags[tag]), self.pushed.get(tag, {}), built)

    def slowdown(self) -> float:
        return 1.0

    async def push_times(self, repository: str) -> dict[str, float]:
        return dict(self.tag_pushed)

    async def ping(self) -> None:
        if self.down:
            raise RegistryConnectionError("connection refused", registry="127.0.0.1:5000")
        if self.refused:
            raise UnauthorizedError("HTTP 401: UNAUTHORIZED", registry="127.0.0.1:5000")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_poller(
    store, source, clock, registry="127.0.0.1:5000", on_change=lambda: None, **settings
) -> WatchPoller:
    """The poller of ``demo/app`` with ``settings``, restored from ``store`` as at start."""
    watch = Watch(parse_reference(f"{registry}/demo/app"), WatchSettings(**settings))
    state = load_state(store, watch, BUCKETS)
    return WatchPoller(watch, source, store, state, clock=clock, on_change=on_change)


def snapshot(poller: WatchPoller):
    settings = poller.watch.settings
    return poller.state.snapshot(
        settings.interval, settings.stall_after, lateness=settings.lateness
    )


def available(poller: WatchPoller, tag: str) -> dict[str, int]:
    view = next(v for v in snapshot(poller).tags if v.state.tag == tag)
    platforms = view.expected | view.state.publication.platforms.keys()
    states = view.state.publication.platforms
    return {str(p): int(p in states and states[p].present) for p in platforms}


async def first_poll(store, **settings) -> tuple[FakeRegistry, Clock, WatchPoller]:
    """A fake registry with 1.0 on linux/amd64 and linux/arm64, a clock, and the poller of it
    (``settings`` as :func:`make_poller` takes them) after its first poll."""
    registry, clock = FakeRegistry(), Clock()
    registry.publish("1.0", AMD, ARM)
    poller = make_poller(store, registry, clock, **settings)
    await poller.poll()
    return registry, clock, poller
