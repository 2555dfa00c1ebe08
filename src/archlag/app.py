"""HTTP endpoints: ``/metrics``, ``/`` (status page), ``/-/config``, ``/-/healthy``, ``/-/ready``,
and the read API under ``/api/v1/`` (:mod:`archlag.api`).

``/?refresh=N`` makes the status page reload itself every N seconds (at least 5); ``/-/config``
shows the loaded configuration, secrets as the variables or files they are read from. A query
string the endpoints cannot use is answered 400 with a one-line reason, never 500.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from archlag import landing
from archlag.api import api_routes
from archlag.config import Config
from archlag.config.view import render_config
from archlag.metrics import OPENMETRICS, TEXT, Exposition
from archlag.metrics.hold import Scraper
from archlag.state import RepositorySnapshot, Snapshot

# The pages run no script at all; say so, and keep browsers from sniffing types or framing them.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
_SCRAPE_HEADER = "x-prometheus-scrape-timeout-seconds"  # sent by Prometheus and its kin
_MAX_QUERY_VALUE = 16


class Readiness:
    """Ready once every watch has finished its first poll (or after a timeout), and while the
    state file can be written."""

    def __init__(
        self,
        watches: int,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
        problem: Callable[[], str | None] = lambda: None,
    ):
        self._pending = watches
        self._deadline = clock() + timeout
        self._clock = clock
        self._problem = problem

    def first_poll_done(self) -> None:
        self._pending = max(self._pending - 1, 0)

    @property
    def ready(self) -> bool:
        return self.reason is None

    @property
    def reason(self) -> str | None:
        """Why archlag is not ready, or None."""
        problem = self._problem()
        if problem is not None:
            return problem
        if self._pending and self._clock() < self._deadline:
            return "first polls are still running"
        return None


PIECE_BYTES = 256 << 10


class ChunkedBody(Response):
    """A response sent in pieces without joining them: the big rendering is shared by every
    scrape, so no scrape copies it. Each piece is at most :data:`PIECE_BYTES`, and the server
    sends the next only once the socket took the last (it awaits the write buffer's drain), so
    a client that never reads holds a few pieces (the piece, the server's copy of it, what the
    socket did not take), not a copy of the whole rendering."""

    def __init__(self, chunks: Sequence[bytes], media_type: str) -> None:
        super().__init__(b"", media_type=media_type)
        self._chunks = [chunk for chunk in chunks if chunk]
        self._total = sum(len(chunk) for chunk in self._chunks)
        self.headers["content-length"] = str(self._total)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if scope.get("method") == "HEAD" or not self._chunks:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        sent = 0
        for chunk in self._chunks:
            for start in range(0, len(chunk), PIECE_BYTES):
                piece = chunk[start : start + PIECE_BYTES]  # one piece copied at a time
                sent += len(piece)
                more = sent < self._total
                await send({"type": "http.response.body", "body": piece, "more_body": more})


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
) -> Starlette:
    """The main app; ``extra_routes`` are served beside its own (the event receivers, when they
    share the main address). ``reload`` (the lifecycle endpoints enabled) serves ``POST
    /-/reload``: it returns None or why the configuration was refused."""

    async def metrics(request: Request) -> Response:
        openmetrics = "application/openmetrics-text" in request.headers.get("accept", "")
        chunks = exposition.body(openmetrics=openmetrics, scraper=_scraper(request))
        return ChunkedBody(chunks, OPENMETRICS if openmetrics else TEXT)

    async def index(request: Request) -> Response:
        refresh = _refresh(request)
        if refresh is None:
            return PlainTextResponse(
                "Bad request: refresh must be a whole number of seconds.\n", status_code=400
            )
        page = landing.render(snapshot(), version, refresh=refresh)
        return HTMLResponse(page, headers=_PAGE_HEADERS)

    async def configuration(request: Request) -> Response:
        if config is None:
            return PlainTextResponse("No configuration loaded.\n", status_code=404)
        return PlainTextResponse(render_config(config()), headers=_PAGE_HEADERS)

    async def reload_config(request: Request) -> Response:
        if reload is None:
            return PlainTextResponse(
                "Lifecycle APIs are not enabled (start archlag with --web.enable-lifecycle).\n",
                status_code=403,
            )
        refused = await reload("POST /-/reload")
        if refused is not None:
            return PlainTextResponse(f"Failed to reload the configuration: {refused}\n", 500)
        return PlainTextResponse("Reloaded.\n")

    async def healthy(request: Request) -> Response:
        return PlainTextResponse("Healthy.\n")

    async def ready(request: Request) -> Response:
        reason = readiness.reason
        if reason is None:
            return PlainTextResponse("Ready.\n")
        return PlainTextResponse(f"Not ready: {reason}.\n", status_code=503)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/metrics", metrics),
            Route("/-/config", configuration),
            Route("/-/healthy", healthy, methods=["GET", "HEAD"]),
            Route("/-/ready", ready, methods=["GET", "HEAD"]),
            Route("/-/reload", reload_config, methods=["POST", "PUT"]),
            *api_routes(snapshot, export, repository),
            *extra_routes,
        ]
    )


def events_app(routes: Sequence[BaseRoute]) -> Starlette:
    """The app of a separate events address: the receivers and ``/-/healthy``, nothing else, so
    that webhooks can face the internet while ``/metrics`` stays inside."""

    async def healthy(request: Request) -> Response:
        return PlainTextResponse("Healthy.\n")

    return Starlette(routes=[*routes, Route("/-/healthy", healthy, methods=["GET", "HEAD"])])


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
    return min(max(seconds, landing.MIN_REFRESH_SECONDS), landing.MAX_REFRESH_SECONDS)
