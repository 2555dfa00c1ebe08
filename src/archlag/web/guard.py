"""What every request to a listener passes when ``--web.config.file`` is given.

:class:`Guard` wraps a listener's app. On every request it asks the
:class:`~archlag.web.live_web_config.LiveWebConfig` for the configuration in force, adds the
``http_server_config.headers`` to the answer (replacing the app's own header of that name), and,
when ``basic_auth_users`` is set, lets a request through only with credentials that
:class:`~archlag.web.basic_auth.BasicAuthVerifier` allows: 401 with ``WWW-Authenticate: Basic``
otherwise, or 503 when too many unknown credentials are being checked at once.

Every path needs credentials, ``/-/healthy`` included (as the exporter toolkit does: probes send
them, see docs/deployment.md), except ``/events/...``: a push-event receiver proves its own
secret (a bearer token, an HMAC signature or a secret in the URL), and webhook senders cannot
send a Basic password. The user a request was allowed as is in the ASGI scope
(:data:`~archlag.web.api.endpoints.USER_KEY`).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archlag.web.api.endpoints import USER_KEY
from archlag.web.basic_auth import BUSY, BasicAuthVerifier
from archlag.web.listener import ListenerTally
from archlag.web.live_web_config import LiveWebConfig

OPEN_PREFIX = "/events/"


class Guard:
    """The ASGI middleware of one listener; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        web: LiveWebConfig,
        verifier: BasicAuthVerifier,
        tally: ListenerTally | None = None,
    ) -> None:
        self._app = app
        self._web = web
        self._verifier = verifier
        self._tally = tally

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        config = self._web.current().config
        if config.headers:
            send = _with_headers(send, config.headers)
        if config.users and not str(scope.get("path", "")).startswith(OPEN_PREFIX):
            verdict, user = await self._verifier.verify(config.users, _authorization(scope))
            if user is None:
                if self._tally is not None:
                    self._tally.unauthorized += 1
                await _refusal(verdict == BUSY)(scope, receive, send)
                return
            scope[USER_KEY] = user
        await self._app(scope, receive, send)


def _refusal(busy: bool) -> PlainTextResponse:
    if busy:
        return PlainTextResponse(
            "Too many credentials are being checked; try again.\n",
            status_code=503,
            headers={"Retry-After": "1"},
        )
    return PlainTextResponse(
        "Unauthorized: this archlag needs Basic credentials.\n",
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="archlag", charset="UTF-8"'},
    )


def _authorization(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return bytes(value).decode("latin-1")
    return None


def _with_headers(send: Send, headers: Sequence[tuple[str, str]]) -> Send:
    names = {name.lower().encode() for name, _ in headers}
    added = [(name.lower().encode(), value.encode()) for name, value in headers]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            kept = [(k, v) for k, v in message.get("headers", ()) if bytes(k).lower() not in names]
            message = {**message, "headers": [*kept, *added]}
        await send(message)

    return sending
