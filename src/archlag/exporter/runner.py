"""Wiring: the supervisor, the metrics, the HTTP servers, signals and reloads.

Everything runs in one anyio task group. SIGTERM or SIGINT stops the HTTP servers and cancels the
pollers; a poll that is saving finishes its transaction first (blocking SQLite work runs in a
worker thread that cancellation waits for), then the store is closed. SIGHUP, and ``POST
/-/reload`` when the lifecycle endpoints are enabled, re-read the configuration file: a file
that fails validation is refused whole and the running configuration keeps going
(:class:`Reloader`).
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from hypercorn.asyncio import serve
from hypercorn.config import Config as ServerConfig
from starlette.types import ASGIApp

from archlag import __version__, logs
from archlag.config import Config, ConfigError, load_config
from archlag.core.sharding import Shard
from archlag.core.snapshots import ListenerFigures, LiveSnapshot
from archlag.events import Dispatcher, event_routes
from archlag.events.event_tally import EventTally
from archlag.exporter.discovered import DiscoveryLink, RunningJudge
from archlag.exporter.supervisor import Changes, Supervisor
from archlag.metrics import Exposition, RenderSchedule
from archlag.registry.archlag_access import ArchlagAccess
from archlag.registry.request_tally import RequestTally
from archlag.store import Store
from archlag.web.app import create_app, events_app
from archlag.web.basic_auth import BasicAuthVerifier
from archlag.web.guard import Guard
from archlag.web.http_server import listener_config
from archlag.web.lifecycle import Readiness
from archlag.web.listener import ConnectionBounds, ListenerTally
from archlag.web.live_web_config import LiveWebConfig
from archlag.web.web_config import LoadedWebConfig

log = logging.getLogger("archlag")


@dataclass(frozen=True, slots=True)
class RunOptions:
    config_path: Path
    listen: str
    ready_timeout: float
    events_listen: str | None = None
    enable_lifecycle: bool = False  # POST /-/reload
    shard: Shard = field(default_factory=Shard)
    peers: tuple[str, ...] = ()  # other archlag shards to adopt moved repositories from
    web_config_path: Path | None = None  # --web.config.file, loaded (and checked) as web_config
    web_config: LoadedWebConfig | None = None
    bounds: ConnectionBounds = field(default_factory=ConnectionBounds)
    peer_access: ArchlagAccess | None = None  # --shard.peers.credentials-file, .ca-file


class ListenError(OSError):
    """An address archlag was told to serve on cannot be bound; ``address`` says which."""

    def __init__(self, address: str, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.address = address


@dataclass(slots=True)
class ReloadStatus:
    successful: bool = True
    last_success: float = field(default_factory=time.time)


class Reloader:
    """Re-reads the configuration file; applies it only when it is valid as a whole."""

    def __init__(
        self, path: Path, supervisor: Supervisor, discovery: DiscoveryLink | None = None
    ) -> None:
        self._path = path
        self._supervisor = supervisor
        self._discovery = discovery
        self._lock = anyio.Lock()
        self.status = ReloadStatus()

    async def reload(self, why: str) -> str | None:
        """Reload; None on success, else the reason (the running configuration is kept)."""
        async with self._lock:
            try:
                config = await anyio.to_thread.run_sync(load_config, self._path)
            except ConfigError as exc:
                self.status.successful = False
                issues = "; ".join(map(str, exc.issues[:20]))
                logs.event(log, logging.ERROR, "reload_failed", trigger=why,
                           file=str(self._path), errors=len(exc.issues), issues=issues)  # fmt: skip
                return str(exc)
            changes = self._supervisor.apply(config)
            if self._discovery is not None:
                self._discovery.reconfigure(config.discovery)
            self.status.successful, self.status.last_success = True, time.time()
            _log_reload(why, changes)
            return None


@dataclass(frozen=True, slots=True)
class LiveFigures:
    """What ``/metrics`` renders at every scrape, gathered from the running parts."""

    supervisor: Supervisor
    store: Store
    reloads: ReloadStatus
    shard: Shard
    requests: RequestTally
    events: EventTally
    listeners: tuple[ListenerTally, ...] = ()
    web: LiveWebConfig | None = None
    judge: RunningJudge | None = None
    discovery: DiscoveryLink | None = None

    def snapshot(self) -> LiveSnapshot:
        return LiveSnapshot(
            registries=self.supervisor.registries(),
            requests=self.requests.snapshot(),
            receivers=self.events.snapshot(),
            state_file_ok=self.store.problem() is None,
            version=__version__,
            shard_ordinal=self.shard.ordinal,
            total_shards=self.shard.total,
            reload_successful=self.reloads.successful,
            reload_success_time=self.reloads.last_success,
            last_poll_success=self.supervisor.last_poll_success(),
            listeners=tuple(
                ListenerFigures(t.name, t.open, dict(t.shed), t.unauthorized)
                for t in self.listeners
            ),
            web_config_successful=self.web.successful if self.web else None,
            web_config_success_time=self.web.last_success if self.web else None,
            running=self.judge.statuses() if self.judge else (),
            discovery=self.discovery.sources() if self.discovery else (),
            deadlines=self.supervisor.deadlines(),
        )


async def run(config: Config, store: Store, options: RunOptions) -> None:
    """Run the exporter until SIGTERM or SIGINT.

    Raises:
        ListenError: a listen address cannot be bound.
    """
    requests, events = RequestTally(), EventTally(r.name for r in config.receivers)
    owned = [w for w in config.watches if options.shard.owns(w.registry, w.repository)]
    readiness = Readiness(len(owned), options.ready_timeout, problem=store.problem)
    schedule = RenderSchedule()  # the pollers say when the state changed; the exposition renders
    supervisor = Supervisor(
        config,
        store,
        shard=options.shard,
        requests=requests,
        events=events,
        on_change=schedule.changed,
        on_first_poll=readiness.first_poll_done,
        peers=options.peers,
        peer_access=options.peer_access,
    )
    judge = RunningJudge(supervisor.repository_snapshot)
    discovery = DiscoveryLink(supervisor, judge)
    reloader = Reloader(options.config_path, supervisor, discovery)
    web = None
    if options.web_config is not None and options.web_config_path is not None:
        web = LiveWebConfig(options.web_config_path, options.web_config)
    tallies = [ListenerTally("main")] + ([ListenerTally("events")] if options.events_listen else [])
    live = LiveFigures(
        supervisor, store, reloader.status, options.shard, requests, events, tuple(tallies), web,
        judge, discovery,
    )  # fmt: skip
    exposition = Exposition(supervisor.snapshot, live=live.snapshot, schedule=schedule)
    receivers = event_routes(supervisor.receivers, Dispatcher(supervisor.poller), events)

    async def export(registry: str, repository: str) -> dict[str, Any] | None:
        return await anyio.to_thread.run_sync(store.export, registry, repository)

    app = create_app(
        exposition,
        supervisor.snapshot,
        readiness,
        __version__,
        config=lambda: supervisor.config,
        extra_routes=() if options.events_listen else receivers,
        reload=reloader.reload if options.enable_lifecycle else None,
        export=export,
        repository=supervisor.repository_snapshot,
        running=judge.statuses,
    )
    apps: list[ASGIApp] = [app]
    addresses = [options.listen]
    if options.events_listen:
        apps.append(events_app(receivers))
        addresses.append(options.events_listen)
    verifier = BasicAuthVerifier()
    servers = [
        (
            Guard(served, web, verifier, tally) if web is not None else served,
            _server_config(address, options.bounds, tally, web),
        )
        for served, address, tally in zip(apps, addresses, tallies, strict=True)
    ]
    shutdown = anyio.Event()
    try:
        async with anyio.create_task_group() as group:
            supervisor.start(group)
            discovery.start(group, config.discovery)
            exposition.prime()
            group.start_soon(_watch_signals, shutdown, reloader)
            group.start_soon(exposition.run)
            logs.event(log, logging.INFO, "started", listen=options.listen,
                       events_listen=options.events_listen or options.listen,
                       watches=len(supervisor.watches()), receivers=len(config.receivers),
                       shard=options.shard.ordinal, total_shards=options.shard.total,
                       version=__version__, state_file=config.state_file)  # fmt: skip
            # Each server runs in a task of its own: hypercorn's asyncio TaskGroup may leave a
            # native cancellation request on the task that ran it, which must not be the host.
            for served, server_config in servers:
                group.start_soon(_serve, served, server_config, shutdown, group.cancel_scope)
    finally:
        with anyio.CancelScope(shield=True):
            await supervisor.aclose()
    logs.event(log, logging.INFO, "stopped")


def _log_reload(why: str, changes: Changes) -> None:
    logs.event(log, logging.INFO, "reloaded", trigger=why, added=len(changes.added),
               removed=len(changes.removed), changed=len(changes.changed),
               registries_replaced=len(changes.registries),
               receivers_changed=changes.receivers)  # fmt: skip


def _server_config(
    listen: str, bounds: ConnectionBounds, tally: ListenerTally, web: LiveWebConfig | None
) -> ServerConfig:
    """Hypercorn's settings for one address, bound now (before any task starts).

    Raises:
        ListenError: the address cannot be bound.
    """
    try:
        return listener_config(listen, bounds, tally, web)
    except OSError as exc:
        raise ListenError(listen, exc) from None


async def _serve(
    app: ASGIApp, config: ServerConfig, shutdown: anyio.Event, scope: anyio.CancelScope
) -> None:
    try:
        await serve(app, config, shutdown_trigger=shutdown.wait)  # type: ignore[arg-type]
    finally:
        scope.cancel()  # the server stopped (signal or error): stop the pollers too


async def _watch_signals(shutdown: anyio.Event, reloader: Reloader) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async for received in signals:
            name = signal.Signals(received).name
            if received == signal.SIGHUP:
                await reloader.reload("SIGHUP")
                continue
            logs.event(log, logging.INFO, "shutting_down", signal=name)
            shutdown.set()
            return
