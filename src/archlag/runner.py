"""Wiring: build registry clients, restore state, start the pollers and the HTTP server.

Everything runs in one anyio task group. SIGTERM or SIGINT stops the HTTP server and cancels the
pollers; a poll that is saving finishes its transaction first (blocking SQLite work runs in a
worker thread that cancellation waits for), then the store is closed.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack

import anyio
from hypercorn.asyncio import serve
from hypercorn.config import Config as ServerConfig
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from archlag import __version__, logs
from archlag.app import Readiness, create_app
from archlag.clients import open_client, tag_source
from archlag.config import Config, split_listen_address
from archlag.metrics import Exposition, RequestMetrics, live_families
from archlag.poller import WatchPoller
from archlag.registry import RegistryClient
from archlag.sources import RegistryTagSource
from archlag.state import RegistryStatus, Snapshot, restore
from archlag.store import Store

log = logging.getLogger("archlag")


def build_pollers(
    config: Config,
    store: Store,
    sources: dict[str, RegistryTagSource],
    on_change: Callable[[], None] = lambda: None,
) -> list[WatchPoller]:
    pollers = []
    for watch in config.watches:
        record = store.load(watch.registry, watch.repository)
        settings = watch.settings
        state = restore(
            record,
            watch.registry,
            watch.repository,
            buckets=config.latency_buckets,
            platforms=settings.platforms,
            matches=settings.tags.matches,
            limit=settings.tags.limit,
            backfill=settings.backfill,
        )
        source = sources[watch.registry]
        pollers.append(WatchPoller(watch, source, store, state, on_change=on_change))
    return pollers


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


def snapshot_of(pollers: Sequence[WatchPoller], clients: Sequence[RegistryClient] = ()) -> Snapshot:
    return Snapshot(
        tuple(
            p.state.snapshot(
                p.watch.settings.interval,
                p.watch.settings.stall_after,
                manifest_digests=p.watch.settings.platform_tags is None,
                configured_platforms=p.watch.settings.platforms,
            )
            for p in pollers
        ),
        tuple(registry_status(c) for c in clients),
    )


async def run(config: Config, store: Store, listen: str, ready_timeout: float) -> None:
    """Run the exporter until SIGTERM or SIGINT.

    Raises:
        OSError: the listen address cannot be bound.
    """
    metrics_registry = CollectorRegistry(auto_describe=False)
    request_metrics = RequestMetrics(metrics_registry)
    async with AsyncExitStack() as stack:
        clients = {
            host: open_client(config, host, observer=request_metrics)
            for host in sorted({w.registry for w in config.watches})
        }
        for host in clients:
            request_metrics.known(host)
        sources = {
            host: tag_source(config, client, request_metrics) for host, client in clients.items()
        }
        for source in sources.values():
            stack.push_async_callback(source.aclose)
        client_list = list(clients.values())
        pollers: list[WatchPoller] = []
        exposition = Exposition(
            lambda: snapshot_of(pollers, client_list),
            live=lambda: live_families(
                [registry_status(c) for c in client_list],
                state_file_ok=store.problem() is None,
                version=__version__,
            ),
            registry=metrics_registry,
        )
        pollers += build_pollers(config, store, sources, on_change=exposition.changed)
        exposition.prime()
        readiness = Readiness(len(pollers), ready_timeout, problem=store.problem)
        app = create_app(
            exposition,
            lambda: snapshot_of(pollers, client_list),
            readiness,
            __version__,
            config=config,
        )
        host, port = split_listen_address(listen)
        _check_bind(host, port)
        server_config = ServerConfig()
        server_config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
        server_config.accesslog = None
        server_config.errorlog = logging.getLogger("archlag.http")
        shutdown = anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(_watch_signals, shutdown)
            group.start_soon(exposition.run)
            for poller in pollers:
                group.start_soon(_poll, poller, readiness)
            logs.event(
                log,
                logging.INFO,
                "started",
                listen=listen,
                watches=len(pollers),
                version=__version__,
                state_file=config.state_file,
            )
            # The server runs in a task of its own: hypercorn's asyncio TaskGroup may leave a
            # native cancellation request on the task that ran it, which must not be the host.
            group.start_soon(_serve, app, server_config, shutdown, group.cancel_scope)
    logs.event(log, logging.INFO, "stopped")


def _check_bind(host: str, port: int) -> None:
    """Fail early and plainly when the address is taken, before any task starts.

    Raises:
        OSError: the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


async def _serve(
    app: Starlette, config: ServerConfig, shutdown: anyio.Event, scope: anyio.CancelScope
) -> None:
    try:
        await serve(app, config, shutdown_trigger=shutdown.wait)  # type: ignore[arg-type]
    finally:
        scope.cancel()  # the server stopped (signal or error): stop the pollers too


async def _poll(poller: WatchPoller, readiness: Readiness) -> None:
    first = True

    def first_poll_done() -> None:
        nonlocal first
        if first:
            first = False
            readiness.first_poll_done()

    await poller.run(first_poll_done)


async def _watch_signals(shutdown: anyio.Event) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for received in signals:
            logs.event(log, logging.INFO, "shutting_down", signal=signal.Signals(received).name)
            shutdown.set()
            return
