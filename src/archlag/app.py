"""HTTP endpoints: ``/metrics``, ``/`` (status page), ``/-/config``, ``/-/healthy``, ``/-/ready``.

``/?refresh=N`` makes the status page reload itself every N seconds (at least 5); ``/-/config``
shows the loaded configuration with secrets redacted.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from archlag import landing
from archlag.collector import render, snapshot_families
from archlag.config import Config
from archlag.config.view import render_config
from archlag.state import Snapshot

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
# The pages run no script at all; say so, and keep browsers from sniffing types or framing them.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def exposition(
    registry: CollectorRegistry, snapshot: Snapshot, version: str, openmetrics: bool
) -> bytes:
    """The whole /metrics body: the snapshot's families, then archlag's own instrumentation."""
    body = render(snapshot_families(snapshot, version), openmetrics=openmetrics)
    if openmetrics:
        own: str = generate_openmetrics(registry).decode()  # type: ignore[no-untyped-call]
        return (body + own.removesuffix("# EOF\n") + "# EOF\n").encode()
    return (body + generate_latest(registry).decode()).encode()


class Readiness:
    """Ready once every watch has finished its first poll, or after a timeout."""

    def __init__(self, watches: int, timeout: float, clock: Callable[[], float] = time.monotonic):
        self._pending = watches
        self._deadline = clock() + timeout
        self._clock = clock

    def first_poll_done(self) -> None:
        self._pending = max(self._pending - 1, 0)

    @property
    def ready(self) -> bool:
        return self._pending == 0 or self._clock() >= self._deadline


def create_app(
    registry: CollectorRegistry,
    snapshot: Callable[[], Snapshot],
    readiness: Readiness,
    version: str,
    *,
    config: Config | None = None,
) -> Starlette:
    async def metrics(request: Request) -> Response:
        openmetrics = "application/openmetrics-text" in request.headers.get("accept", "")
        current = snapshot()  # taken on the event loop, between two polls' updates
        # Rendering 10,000 tags takes a while: keep the event loop (and the pollers) free.
        body = await anyio.to_thread.run_sync(exposition, registry, current, version, openmetrics)
        media = OPENMETRICS if openmetrics else TEXT
        return Response(body, headers={"Content-Type": media})

    async def index(request: Request) -> Response:
        page = landing.render(snapshot(), version, refresh=_refresh(request))
        return HTMLResponse(page, headers=_PAGE_HEADERS)

    async def configuration(request: Request) -> Response:
        if config is None:
            return PlainTextResponse("No configuration loaded.\n", status_code=404)
        return PlainTextResponse(render_config(config), headers=_PAGE_HEADERS)

    async def healthy(request: Request) -> Response:
        return PlainTextResponse("Healthy.\n")

    async def ready(request: Request) -> Response:
        if readiness.ready:
            return PlainTextResponse("Ready.\n")
        return PlainTextResponse("Not ready: first polls are still running.\n", status_code=503)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/metrics", metrics),
            Route("/-/config", configuration),
            Route("/-/healthy", healthy, methods=["GET", "HEAD"]),
            Route("/-/ready", ready, methods=["GET", "HEAD"]),
        ]
    )


def _refresh(request: Request) -> int:
    """``?refresh=N`` in seconds, clamped to landing's bounds, or 0 for none."""
    value = request.query_params.get("refresh", "")
    if not value.isdigit() or int(value) == 0:
        return 0
    return min(max(int(value), landing.MIN_REFRESH_SECONDS), landing.MAX_REFRESH_SECONDS)
