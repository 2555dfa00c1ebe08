"""Hypercorn's settings for one of archlag's listeners: its bounded socket, TLS, and timeouts.

:func:`listener_config` binds the address at once (so a taken address fails the start plainly),
on a :class:`~archlag.web.listener.BoundedListener`, and returns a Hypercorn configuration that
serves that socket, over TLS when a web configuration with ``tls_server_config`` is given (the
context is chosen per connection: :class:`~archlag.web.tls_server.PerConnectionContext`).

Time limits, so that an idle or slow client cannot hold one of the bounded connections:
:data:`KEEP_ALIVE_SECONDS` between requests (and before the first one is complete),
:data:`HANDSHAKE_SECONDS` for a TLS handshake, :data:`READ_TIMEOUT_SECONDS` without a byte from
the client while a request is in progress (a request body trickled, an answer never read).
"""

from __future__ import annotations

import logging
import socket
import ssl

from hypercorn.config import Config as ServerConfig
from hypercorn.config import Sockets

from archlag.config import split_listen_address
from archlag.web.listener import BACKLOG, BoundedListener, ConnectionBounds, ListenerTally
from archlag.web.live_web_config import LiveWebConfig
from archlag.web.tls_server import PerConnectionContext

KEEP_ALIVE_SECONDS = 5
HANDSHAKE_SECONDS = 10
READ_TIMEOUT_SECONDS = 60
H2_STREAMS = 16  # requests at once on one HTTP/2 connection (Hypercorn's default is 100)


class ListenerConfig(ServerConfig):
    """Hypercorn's configuration for a socket archlag made (see :func:`listener_config`)."""

    def __init__(self, listener: BoundedListener, web: LiveWebConfig | None) -> None:
        super().__init__()
        self._listener = listener
        self._web = web if web is not None and web.current().context is not None else None

    @property
    def ssl_enabled(self) -> bool:
        return self._web is not None

    def create_ssl_context(self) -> ssl.SSLContext | None:
        if self._web is None:
            return None
        return PerConnectionContext(self._web.tls_context)

    def create_sockets(self) -> Sockets:
        if self._web is not None:
            return Sockets([self._listener], [], [])
        return Sockets([], [self._listener], [])


def listener_config(
    listen: str,
    bounds: ConnectionBounds,
    tally: ListenerTally,
    web: LiveWebConfig | None = None,
) -> ListenerConfig:
    """The listening socket for ``listen`` (bound now) and Hypercorn's settings to serve it.

    Raises:
        OSError: the address cannot be bound.
    """
    host, port = split_listen_address(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = BoundedListener(family, bounds, tally)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind((host, port))
        listener.setblocking(False)
        listener.set_inheritable(False)
    except OSError:
        listener.close()
        raise
    config = ListenerConfig(listener, web)
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.backlog = BACKLOG
    config.keep_alive_timeout = KEEP_ALIVE_SECONDS
    config.ssl_handshake_timeout = HANDSHAKE_SECONDS
    config.read_timeout = READ_TIMEOUT_SECONDS
    config.h2_max_concurrent_streams = H2_STREAMS
    config.accesslog = None
    config.errorlog = logging.getLogger("archlag.http")
    return config
