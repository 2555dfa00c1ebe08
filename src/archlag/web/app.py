"""HTTP endpoints: ``/metrics``, ``/`` (status page), ``/-/config``, ``/-/healthy``, ``/-/ready``,
and the read API under ``/api/v1/`` (:mod:`archlag.web.api`).

``/?refresh=N`` makes the status page reload itself every N seconds (at least 5); ``/-/config``
shows the loaded configuration, secrets as the variables or files they are read from. A query
string the endpoints cannot use is answered 400 with a one-line reason, never 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from archlag.config import Config
from archlag.config.view import render_config
from archlag.core.snapshots import RepositorySnapshot, RunningStatus, Snapshot
from archlag.metrics import OPENMETRICS, TEXT, Exposition
from archlag.metrics.compressed import accepts_gzip
from archlag.metrics.hold import Scraper
from archlag.web import status_page
from archlag.web.api import api_routes
from archlag.web.chunked import ChunkedBody
from archlag.web.lifecycle import Readiness, healthy_route, lifecycle_routes

# The pages run no script at all; say so, and keep browsers from sniffing types or framing them.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
_SCRAPE_HEADER = "x-prometheus-scrape-timeout-seconds"  # sent by Prometheus and its kin
_MAX_QUERY_VALUE = 16


def create_app(
    exposition: Exposition,
    snapshot: Callable[[], Snapshot],
    readiness: Readiness,
    version: str,
    *,
    config: Callable[[], Config] | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    reload: Callable[[str], Awaitable[str | None]] | None = None,
    export: Callable[[str, str], Awaitable[dict[str, Any] | None]] | None = None,
    repository: Callable[[str, str], RepositorySnapshot | None] | None = None,
    running: Callable[[], Sequence[RunningStatus]] = tuple,
) -> Starlette:
    """The main app; ``extra_routes`` are served beside its own (the event receivers, when they
    share the main address). ``reload`` (the lifecycle endpoints enabled) serves ``POST
    /-/reload``: it returns None or why the configuration was refused. ``running`` gives what
    discovery found running, judged (the status page's "What you run", ``/api/v1/running``)."""

    async def metrics(request: Request) -> Response:
        openmetrics = "application/openmetrics-text" in request.headers.get("accept", "")
        gzip = accepts_gzip(request.headers.get("accept-encoding", ""))
        chunks = exposition.body(openmetrics=openmetrics, scraper=_scraper(request), gzip=gzip)
        response = ChunkedBody(chunks, OPENMETRICS if openmetrics else TEXT)
        response.headers["vary"] = "Accept-Encoding"
        if gzip:
            response.headers["content-encoding"] = "gzip"
        return response

    async def index(request: Request) -> Response:
        refresh = _refresh(request)
        if refresh is None:
            return PlainTextResponse(
                "Bad request: refresh must be a whole number of seconds.\n", status_code=400
            )
        page = status_page.render(snapshot(), version, refresh=refresh, running=running())
        return HTMLResponse(page, headers=_PAGE_HEADERS)

    async def configuration(request: Request) -> Response:
        if config is None:
            return PlainTextResponse("No configuration loaded.\n", status_code=404)
        return PlainTextResponse(render_config(config()), headers=_PAGE_HEADERS)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/metrics", metrics),
            Route("/-/config", configuration),
            *lifecycle_routes(readiness, reload),
            *api_routes(snapshot, export, repository, running),
            *extra_routes,
        ]
    )


def events_app(routes: Sequence[BaseRoute]) -> Starlette:
    """The app of a separate events address: the receivers and ``/-/healthy``, nothing else, so
    that webhooks can face the internet while ``/metrics`` stays inside."""

    return Starlette(routes=[*routes, healthy_route()])


def _scraper(request: Request) -> Scraper | None:
    """Who scrapes, when it is a Prometheus (or an agent speaking its scrape protocol)."""
    if _SCRAPE_HEADER not in request.headers:
        return None
    host = request.client.host if request.client is not None else ""
    return host, request.headers.get("user-agent", "")[:200]


def _refresh(request: Request) -> int | None:
    """``?refresh=N`` in seconds, clamped to landing's bounds; 0 for none; None if unusable."""
    value = request.query_params.get("refresh", "")
    if not value:
        return 0
    if len(value) > _MAX_QUERY_VALUE or not (value.isascii() and value.isdigit()):
        return None
    seconds = int(value)
    if seconds == 0:
        return 0
    return min(max(seconds, status_page.MIN_REFRESH_SECONDS), status_page.MAX_REFRESH_SECONDS)
