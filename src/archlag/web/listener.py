"""A listening socket that sheds load at ``accept``, before any TLS or HTTP work.

Tried as an attacker would, 10,000 simultaneous ``GET /metrics`` from one client made the event
loop serve them all at once: probes missed their timeout and polls waited seconds. So each
listener bounds its open connections (:class:`ConnectionBounds`): at most ``per_listener`` in
all and ``per_client`` from one address. A connection beyond either bound is closed as soon as
it is accepted, before a TLS handshake or a request is read (a few microseconds), and counted
(:class:`ListenerTally`, ``archlag_http_connections_shed_total``); one warning is logged at most
every :data:`LOG_EVERY_SECONDS`. A client that floods meets its own bound, while a probe or a
Prometheus from another address still finds room. At most :data:`MAX_SHED_PER_CALL`
connections are shed per call, so that a flood gives the event loop back between batches.

The listen backlog (:data:`BACKLOG`, capped by the kernel's ``net.core.somaxconn``) is far above
Hypercorn's 100: with a short queue a burst of connections overflows it and the kernel drops the
SYNs of everyone, probes included, who then wait a second for a retransmission.

asyncio accepts through the listening socket's ``accept`` and closes each connection with its
``close``: :class:`BoundedListener` and its connections count there.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass, field

from archlag import logs

log = logging.getLogger("archlag.http")
BACKLOG = 4096
MAX_SHED_PER_CALL = 64
LOG_EVERY_SECONDS = 10.0
LISTENER_FULL, CLIENT_FULL = "listener_full", "client_full"


MAX_CONNECTIONS = 512  # Prometheus' --web.max-connections default
MAX_CONNECTIONS_PER_CLIENT = 64


@dataclass(frozen=True, slots=True)
class ConnectionBounds:
    per_listener: int = MAX_CONNECTIONS
    per_client: int = MAX_CONNECTIONS_PER_CLIENT


@dataclass(slots=True)
class ListenerTally:
    """One listener's figures (``main`` or ``events``), read by ``/metrics``."""

    name: str
    open: int = 0
    shed: dict[str, int] = field(default_factory=lambda: {LISTENER_FULL: 0, CLIENT_FULL: 0})
    unauthorized: int = 0


class BoundedListener(socket.socket):
    """A TCP listening socket whose ``accept`` keeps to :class:`ConnectionBounds`."""

    def __init__(self, family: int, bounds: ConnectionBounds, tally: ListenerTally) -> None:
        super().__init__(family, socket.SOCK_STREAM)
        self._bounds = bounds
        self._tally = tally
        self._clients: dict[str, int] = {}
        self._unlogged = 0
        self._logged_at = 0.0

    def accept(self) -> tuple[socket.socket, object]:
        """The next connection within bounds; the others are closed and counted.

        Raises:
            BlockingIOError: none is waiting, or a batch was shed (asyncio tries again on the
                next turn of the loop).
        """
        for _ in range(MAX_SHED_PER_CALL):
            fd, address = self._accept()  # type: ignore[attr-defined]
            client = str(address[0]) if isinstance(address, tuple) else ""
            reason = self._over(client)
            if reason is None:
                self._opened(client)
                connection = _Connection(self, client, fd)
                return connection, address
            socket.close(fd)
            self._tally.shed[reason] += 1
            self._unlogged += 1
            self._log_shed()
        raise BlockingIOError

    def _over(self, client: str) -> str | None:
        if self._tally.open >= self._bounds.per_listener:
            return LISTENER_FULL
        if self._clients.get(client, 0) >= self._bounds.per_client:
            return CLIENT_FULL
        return None

    def _opened(self, client: str) -> None:
        self._tally.open += 1
        self._clients[client] = self._clients.get(client, 0) + 1

    def closed(self, client: str) -> None:
        """A connection of ``client`` was closed."""
        self._tally.open -= 1
        left = self._clients.get(client, 1) - 1
        if left > 0:
            self._clients[client] = left
        else:
            self._clients.pop(client, None)

    def _log_shed(self) -> None:
        now = time.monotonic()
        if now - self._logged_at < LOG_EVERY_SECONDS:
            return
        logs.event(log, logging.WARNING, "connections_shed", listener=self._tally.name,
                   shed=self._unlogged, open=self._tally.open,
                   max_connections=self._bounds.per_listener,
                   max_per_client=self._bounds.per_client)  # fmt: skip
        self._logged_at, self._unlogged = now, 0


class _Connection(socket.socket):
    """An accepted connection that tells its listener when it is closed (once)."""

    def __init__(self, listener: BoundedListener, client: str, fd: int) -> None:
        super().__init__(listener.family, listener.type, listener.proto, fileno=fd)
        self._listener: BoundedListener | None = listener
        self._client = client

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.closed(self._client)
        super().close()

    def detach(self) -> int:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.closed(self._client)
        return super().detach()
