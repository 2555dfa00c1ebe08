"""A fake API (a Starlette app) served for real by hypercorn, in the test's own event loop, on
loopback TCP or a unix socket: what the discovery sources' fakes run on.

``async with serving(app, "127.0.0.1:0") as server`` gives its URL; ``await server.stop()``
takes it away mid-test (clients then meet a refused connection), ``await server.start()``
brings it back on the same address.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import TaskGroup
from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.applications import Starlette


class Served:
    """One fake API served by hypercorn; stop and start it again at will."""

    def __init__(
        self, app: Starlette, bind: str, group: TaskGroup, tls: TlsServing | None = None
    ) -> None:
        self.app, self.bind, self._group, self.tls = app, bind, group, tls
        self._stop: anyio.Event | None = None
        self._stopped = anyio.Event()
        if bind.startswith("unix:"):
            self.url = "http://localhost"
        else:
            host, _, port = bind.rpartition(":")
            if port == "0":
                port = str(_free_port(host))
                self.bind = f"{host}:{port}"
            self.url = f"{'https' if tls else 'http'}://{self.bind}"

    async def start(self) -> None:
        config = Config()
        config.bind = [self.bind]
        config.accesslog = None
        config.errorlog = logging.getLogger("tests.fake_api")
        config.graceful_timeout = 0.2  # open watch streams end at once when the server stops
        if self.tls is not None:
            config.certfile, config.keyfile = str(self.tls.cert), str(self.tls.key)
            if self.tls.client_ca is not None:  # clients must show a certificate it signed
                config.ca_certs, config.verify_mode = str(self.tls.client_ca), ssl.CERT_REQUIRED
        self._stop, self._stopped = anyio.Event(), anyio.Event()
        self._group.start_soon(self._serve, config, self._stop, self._stopped)
        with anyio.fail_after(10):
            while not await self._accepts():  # noqa: ASYNC110 - hypercorn tells no one it bound
                await anyio.sleep(0.01)

    async def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
            with anyio.fail_after(10):
                await self._stopped.wait()
            self._stop = None

    async def _serve(self, config: Config, stop: anyio.Event, stopped: anyio.Event) -> None:
        try:
            await serve(self.app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
        finally:
            if self.bind.startswith("unix:"):
                await anyio.Path(self.bind.removeprefix("unix:")).unlink(missing_ok=True)
            stopped.set()

    async def _accepts(self) -> bool:
        try:
            if self.bind.startswith("unix:"):
                stream = await anyio.connect_unix(self.bind.removeprefix("unix:"))
            else:
                host, _, port = self.bind.rpartition(":")
                stream = await anyio.connect_tcp(host.strip("[]"), int(port))
        except OSError:
            return False
        await stream.aclose()
        return True


@dataclass(frozen=True)
class TlsServing:
    cert: Path
    key: Path
    client_ca: Path | None = None  # require client certificates signed by it


@asynccontextmanager
async def serving(
    app: Starlette, bind: str, tls: TlsServing | None = None
) -> AsyncIterator[Served]:
    """``app`` served on ``bind`` (``127.0.0.1:0`` for a free port, ``unix:/path``)."""
    async with anyio.create_task_group() as group:
        served = Served(app, bind, group, tls)
        await served.start()
        try:
            yield served
        finally:
            await served.stop()
            group.cancel_scope.cancel()


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host.strip("[]"), 0))
        return int(sock.getsockname()[1])
