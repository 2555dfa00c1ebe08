"""The lifecycle endpoints: ``/-/healthy``, ``/-/ready`` and ``/-/reload``.

``/-/healthy`` answers 200 while the process serves; ``/-/ready`` 503 until every watch has
finished its first poll (or ``--web.ready-timeout`` passed) and while the state file cannot be
written; ``POST /-/reload`` re-reads the configuration when ``--web.enable-lifecycle`` is given
(403 otherwise), and answers 500 with the reason when the new file is refused.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


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


def healthy_route() -> Route:
    async def healthy(request: Request) -> Response:
        return PlainTextResponse("Healthy.\n")

    return Route("/-/healthy", healthy, methods=["GET", "HEAD"])


def lifecycle_routes(
    readiness: Readiness, reload: Callable[[str], Awaitable[str | None]] | None
) -> list[Route]:
    """``/-/healthy``, ``/-/ready`` and ``/-/reload`` (``reload`` None: lifecycle disabled)."""

    async def ready(request: Request) -> Response:
        reason = readiness.reason
        if reason is None:
            return PlainTextResponse("Ready.\n")
        return PlainTextResponse(f"Not ready: {reason}.\n", status_code=503)

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

    return [
        healthy_route(),
        Route("/-/ready", ready, methods=["GET", "HEAD"]),
        Route("/-/reload", reload_config, methods=["POST", "PUT"]),
    ]
