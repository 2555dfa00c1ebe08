"""The running exporter's moving parts, and swapping in a new configuration without a restart.

:class:`Supervisor` owns the registry clients, one poller task per watch (each in a cancel scope
of its own) and the receivers. :meth:`Supervisor.apply` compares a new configuration with the
running one:

- a watch whose image and settings did not change keeps polling, untouched: no gap, nothing lost;
- a changed watch keeps its state and picks up the change at its next poll;
- a removed watch stops; it leaves ``/metrics`` and its history stays in the state file, so
  adding it again resumes it;
- a new watch starts, restored from the state file if it was watched before;
- a registry whose settings changed gets a new client (its watches switch at their next poll);
  the old one is closed a while later, once polls that use it are done;
- receivers are replaced; the listen addresses are not (archlag says so).

Only the watches of this process's shard (:mod:`archlag.core.sharding`) are run; with peers, each
watch first adopts the history a peer holds for it (:mod:`archlag.exporter.handoff`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import anyio
from anyio.abc import TaskGroup

from archlag import logs
from archlag.config import Config, Receiver, Watch, WatchSettings
from archlag.core.lateness import Deadline, LatenessRule
from archlag.core.sharding import Shard
from archlag.core.snapshots import RegistryStatus, RepositorySnapshot, Snapshot
from archlag.events.event_tally import EventTally
from archlag.exporter.discovered import merge_watches
from archlag.exporter.handoff import adopt, done, needed
from archlag.polling.poller import WatchPoller, load_state
from archlag.polling.source import RegistryTagSource, tag_source
from archlag.registry import RegistryClient
from archlag.registry.archlag_access import ArchlagAccess
from archlag.registry.configured import open_client
from archlag.registry.request_tally import RequestTally
from archlag.store import Store

log = logging.getLogger("archlag")

HANDOFFS_AT_ONCE = 8  # watches asking the peers for their history at the same time
# Watches of one registry in their first poll at the same time: a first poll reads every tag (a
# GET each), so hundreds at once hold their pending requests and answers in memory together
# (500 watches of 20 tags: 207 MiB at the first complete view, 110 MiB with 64 at once), and
# the registry's own concurrency limits how fast they go anyway. Per registry, so that a slow
# registry delays only its own watches; a place is kept for 10 s at most (polling.poller).
FIRST_POLLS_AT_ONCE = 64
OLD_CLIENT_GRACE_SECONDS = 120.0  # longer than any poll that may still use a replaced client

Key = tuple[str, str]  # (registry, repository)


@dataclass(frozen=True, slots=True)
class Changes:
    """What a new configuration changed in the running exporter."""

    added: tuple[Key, ...] = ()
    removed: tuple[Key, ...] = ()
    changed: tuple[Key, ...] = ()
    registries: tuple[str, ...] = ()  # hosts whose client was replaced
    receivers: bool = False


@dataclass(slots=True)
class _Running:
    poller: WatchPoller
    scope: anyio.CancelScope


class Supervisor:
    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        shard: Shard,
        requests: RequestTally,
        events: EventTally,
        on_change: Callable[[], None],
        on_first_poll: Callable[[], None] = lambda: None,
        peers: Sequence[str] = (),
        peer_access: ArchlagAccess | None = None,
    ) -> None:
        self.config = config
        self.shard = shard
        self._peers = tuple(peers)
        self._peer_access = peer_access
        self._handoffs = anyio.CapacityLimiter(HANDOFFS_AT_ONCE)
        self._handoffs_left: set[Key] = set()  # watches of the start still to ask the peers
        self._first_polls: dict[str, anyio.Semaphore] = {}  # per registry
        self._store = store
        self._requests = requests
        self._events = events
        self._on_change = on_change
        self._on_first_poll = on_first_poll
        self._clients: dict[str, RegistryClient] = {}
        self._sources: dict[str, RegistryTagSource] = {}
        self._running: dict[Key, _Running] = {}
        self._discovered: tuple[Key, ...] = ()  # repositories discovery found running
        self._group: TaskGroup | None = None

    # -- views for the rest of the process ----------------------------------------------------

    def watches(self) -> list[Watch]:
        """The watches of this shard: the configured ones, and one per repository discovery
        found running that none of them covers (with ``discovery.defaults``)."""
        discovery = self.config.discovery
        found = self._discovered if discovery is not None else ()
        settings = discovery.defaults if discovery is not None else None
        merged = merge_watches(self.config.watches, found, settings or WatchSettings())
        return [w for w in merged if self.shard.owns(w.registry, w.repository)]

    def pollers(self) -> list[WatchPoller]:
        return [running.poller for running in self._running.values()]

    def poller(self, registry: str, repository: str) -> WatchPoller | None:
        running = self._running.get((registry, repository))
        return running.poller if running is not None else None

    def receivers(self) -> Sequence[Receiver]:
        return self.config.receivers

    def snapshot(self) -> Snapshot:
        return Snapshot(tuple(_repository_snapshot(p) for p in self.pollers()))

    def repository_snapshot(self, registry: str, repository: str) -> RepositorySnapshot | None:
        """One watch's snapshot (None if it is not watched here), for the API."""
        poller = self.poller(registry, repository)
        return _repository_snapshot(poller) if poller is not None else None

    def registries(self) -> tuple[RegistryStatus, ...]:
        """What each registry told its client about its limits: cheap, for every scrape (a
        whole snapshot copies every tag in view)."""
        return tuple(registry_status(c) for c in self._clients.values())

    def last_poll_success(self) -> dict[tuple[str, str], float]:
        """Each watch's last poll without errors (what quiet polls move), for every scrape."""
        found = {}
        for (registry, repository), running in self._running.items():
            at = running.poller.state.figures.last_poll_success
            if at is not None:
                found[registry, repository] = at
        return found

    def deadlines(self) -> dict[tuple[str, str], tuple[Deadline, ...]]:
        """Each watch's missing platforms and when they are late, for every scrape (computed
        once per change of the watch's state)."""
        found = {}
        for key, running in self._running.items():
            settings = running.poller.watch.settings
            rule = LatenessRule(settings.lateness, settings.stall_after)
            if pending := running.poller.state.deadlines(rule):
                found[key] = pending
        return found

    def clients(self) -> list[RegistryClient]:
        return list(self._clients.values())

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, group: TaskGroup) -> None:
        """Start every watch of the configuration (the first one) in ``group``."""
        self._group = group
        if self._peers and not needed(self._store, self.shard.total):
            self._peers = ()  # the same shards as last time: nothing moved here
        self._handoffs_left = {(w.registry, w.repository) for w in self.watches()}
        for host in sorted({w.registry for w in self.watches()}):
            self._open(host)
        for watch in self.watches():
            self._start(watch)

    async def aclose(self) -> None:
        """At shutdown (the pollers stopped): write the times quiet polls kept in memory, and
        close the clients."""
        for running in self._running.values():
            await running.poller.flush()
        for source in self._sources.values():
            await source.aclose()

    def apply(self, new: Config) -> Changes:
        """Switch to ``new``, which is valid (see the module docstring for what happens)."""
        old = self.config
        self.config = new
        for what in ("listen", "events_listen"):
            if getattr(old, what) != getattr(new, what):
                logs.event(log, logging.WARNING, "reload_ignores_listen_address", setting=what,
                           note="listen addresses change only with a restart")  # fmt: skip
        replaced = self._replace_registries(old, new)
        added, removed, changed = self._converge(replaced)
        self._events.retain(r.name for r in new.receivers)
        self._on_change()
        return Changes(added, removed, changed, tuple(replaced), old.receivers != new.receivers)

    def discovered(self, repositories: Iterable[Key]) -> Changes:
        """What discovery finds running now: its repositories are watched (this shard's share),
        those it no longer finds (after its grace) stop; their history stays in the state."""
        found = tuple(sorted(set(repositories)))
        if found == self._discovered:
            return Changes()
        self._discovered = found
        replaced = self._replace_registries(self.config, self.config)
        added, removed, changed = self._converge(replaced)
        if added or removed:
            logs.event(log, logging.INFO, "discovered_watches_changed", added=len(added),
                       removed=len(removed), watched=len(self._running))  # fmt: skip
            self._on_change()
        return Changes(added, removed, changed, tuple(replaced))

    def _converge(self, replaced: list[str]) -> tuple[tuple[Key, ...], ...]:
        """Start, stop and reconfigure pollers to match :meth:`watches`; returns the added,
        removed and changed keys."""
        wanted = {(w.registry, w.repository): w for w in self.watches()}
        removed = tuple(key for key in self._running if key not in wanted)
        for key in removed:
            self._stop(key)
        added, changed = [], []
        for key, watch in wanted.items():
            running = self._running.get(key)
            if running is None:
                self._start(watch)
                added.append(key)
            elif running.poller.watch != watch or watch.registry in replaced:
                running.poller.reconfigure(watch, self._sources[watch.registry])
                changed.append(key)
        return tuple(added), removed, tuple(changed)

    # -- pieces --------------------------------------------------------------------------------

    def _replace_registries(self, old: Config, new: Config) -> list[str]:
        """New clients for hosts whose settings changed; clients for new hosts; returns the
        replaced hosts. Clients of hosts no longer used are closed later."""
        hosts = {w.registry for w in self.watches()}
        replaced = []
        for host in sorted(hosts):
            if host not in self._clients:
                self._open(host)
            elif old.registry(host) != new.registry(host):
                self._retire(host)
                self._open(host)
                replaced.append(host)
        for host in sorted(set(self._clients) - hosts):
            self._retire(host)
        # Requests of registries (and push-time APIs) no client uses any more leave /metrics.
        self._requests.retain({name for s in self._sources.values() for name in s.names()})
        return replaced

    def _open(self, host: str) -> None:
        client = open_client(self.config, host, observer=self._requests)
        self._clients[host] = client
        source = tag_source(self.config, client, self._requests)
        self._sources[host] = source
        for name in source.names():
            self._requests.known(name)

    def _retire(self, host: str) -> None:
        source = self._sources.pop(host)
        del self._clients[host]
        assert self._group is not None
        self._group.start_soon(_close_later, source)

    def _start(self, watch: Watch) -> None:
        assert self._group is not None
        poller = build_poller(
            self.config,
            self._store,
            watch,
            self._sources[watch.registry],
            on_change=self._on_change,
            on_event_checked=self._events.checked,
        )
        scope = anyio.CancelScope()
        self._running[(watch.registry, watch.repository)] = _Running(poller, scope)
        self._group.start_soon(self._run, poller, scope)

    def _stop(self, key: Key) -> None:
        running = self._running.pop(key)
        running.scope.cancel()  # a save in progress finishes first (it runs in a thread)

    def _handed_off(self, key: Key) -> None:
        if key in self._handoffs_left:
            self._handoffs_left.discard(key)
            if not self._handoffs_left:
                done(self._store, self.shard.total)

    async def _run(self, poller: WatchPoller, scope: anyio.CancelScope) -> None:
        first = True

        def first_poll_done() -> None:
            nonlocal first
            if first:
                first = False
                self._on_first_poll()

        with scope:
            watch, store = poller.watch, self._store
            if self._peers:
                async with self._handoffs:
                    adopted = await adopt(
                        store,
                        watch.registry,
                        watch.repository,
                        self._peers,
                        access=self._peer_access,
                    )
                if adopted:
                    poller.reload()
                self._handed_off((watch.registry, watch.repository))
            gate = self._first_polls.setdefault(
                watch.registry, anyio.Semaphore(FIRST_POLLS_AT_ONCE)
            )
            await poller.run(first_poll_done, first_polls=gate)


def build_poller(
    config: Config,
    store: Store,
    watch: Watch,
    source: RegistryTagSource,
    *,
    on_change: Callable[[], None] = lambda: None,
    on_event_checked: Callable[[str, float], None] = lambda receiver, seconds: None,
) -> WatchPoller:
    """A poller for ``watch``, its state restored from ``store``."""
    state = load_state(store, watch, config.latency_buckets)
    return WatchPoller(
        watch, source, store, state, on_change=on_change, on_event_checked=on_event_checked
    )


def registry_status(client: RegistryClient) -> RegistryStatus:
    status = client.status()
    limit = status.rate_limit
    return RegistryStatus(
        client.name,
        ratelimit_limit=limit.limit if limit else None,
        ratelimit_remaining=limit.remaining if limit else None,
        ratelimit_window_seconds=limit.window_seconds if limit else None,
        backoff_until=status.backoff_until,
        quota_requests=status.quota_requests,
        limits_hit=dict(status.limits_hit),
    )


def _repository_snapshot(poller: WatchPoller) -> RepositorySnapshot:
    settings = poller.watch.settings
    return poller.state.snapshot(
        settings.interval,
        settings.stall_after,
        manifest_digests=settings.platform_tags is None,
        configured_platforms=settings.platforms,
        lateness=settings.lateness,
    )


async def _close_later(source: RegistryTagSource) -> None:
    await anyio.sleep(OLD_CLIENT_GRACE_SECONDS)
    await source.aclose()
