"""Fronts of the hostile registry: registry-wide behaviour that sees every request first (token
and Basic auth that can be broken until healed, redirects, 429s, added headers, failures)."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Sequence

from tests.support.hostile_answers import echo_authorization, json_answer, redirect
from tests.support.hostile_http import Connection, Front, Handler, Request, challenge, error_body

# -- fronts: registry-wide behaviour -------------------------------------------------------------


class TokenServer(Front):
    """A token realm at ``/token``: issues a fresh token per request (``tokens`` holds them).

    ``broken``, until healed, answers token requests instead (an endless body, garbage...).
    """

    def __init__(self, broken: Handler | None = None, tokens: set[str] | None = None) -> None:
        self.broken = broken
        self.tokens = tokens if tokens is not None else set()

    async def handle(self, request: Request, conn: Connection) -> bool:
        if request.path != "/token":
            return False
        if self.broken is not None and not self.healed:
            await self.broken(request, conn)
            return True
        token = f"issued-{len(self.tokens)}-{hashlib.sha256(request.path.encode()).hexdigest()}"
        self.tokens.add(token)
        await json_answer(200, {"token": token, "expires_in": 300})(request, conn)
        return True


class BearerAuth(Front):
    """Token auth: a request without a token that ``tokens`` holds gets a Bearer challenge.

    The realm is ``bad_realm`` until healed, then ``realm`` (default: this registry's own
    ``/token``, served by ``server``, a :class:`TokenServer` whose tokens are accepted).
    """

    def __init__(
        self,
        bad_realm: str | None = None,
        *,
        server: TokenServer | None = None,
        realm: Callable[[], str] | None = None,
    ) -> None:
        self.bad_realm = bad_realm
        self.server = server or TokenServer()
        self._realm = realm

    def heal(self) -> None:
        super().heal()
        self.server.heal()

    def arm(self) -> None:
        """Misbehave again, and revoke every token issued so far: archlag must ask anew."""
        super().arm()
        self.server.arm()
        self.server.tokens.clear()

    async def handle(self, request: Request, conn: Connection) -> bool:
        if self._realm is None and await self.server.handle(request, conn):
            return True
        authorization = request.headers.get("authorization", "")
        if authorization.removeprefix("Bearer ") in self.server.tokens:
            return False
        good = self._realm() if self._realm is not None else f"{self.url}/token"
        realm = self.bad_realm if self.bad_realm is not None and not self.healed else good
        header = challenge("Bearer", realm=realm, service="hostile")
        body = error_body("UNAUTHORIZED", "authentication required")
        await conn.respond(401, body, [("Content-Type", "application/json"), header])
        return True


class BasicAuth(Front):
    """Basic auth for ``username``/``password``.

    Refused requests get ``401`` with a Basic challenge; with ``echo`` its body and realm repeat
    the ``Authorization`` that was sent. With ``deny``, accepted requests for the repositories
    whose name starts with it get :func:`echo_authorization`'s ``403`` instead.
    """

    def __init__(
        self, username: str, password: str, *, echo: bool = False, deny: str | None = None
    ) -> None:
        self.expected = "Basic " + _basic(username, password)
        self.echo = echo
        self.deny = deny

    async def handle(self, request: Request, conn: Connection) -> bool:
        sent = request.headers.get("authorization", "")
        if sent != self.expected:
            said = f"you sent {sent!r}" if self.echo else "authentication required"
            realm = f"basic {said}" if self.echo else "hostile"
            headers = [("Content-Type", "application/json"), challenge("Basic", realm=realm)]
            await conn.respond(401, error_body("UNAUTHORIZED", said), headers)
            return True
        if self.deny is not None and request.path.startswith(f"/v2/{self.deny}"):
            await echo_authorization()(request, conn)
            return True
        return False


def _basic(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


class RedirectAll(Front):
    """Every repository request is redirected to the same path on ``target()``'s origin.

    With ``basic`` (user, password) a request must first carry those credentials, so that the
    redirect follows a request that had them.
    """

    def __init__(self, target: Callable[[], str], basic: tuple[str, str] | None = None) -> None:
        self._target = target
        self._auth = BasicAuth(*basic) if basic else None

    async def handle(self, request: Request, conn: Connection) -> bool:
        if self._auth is not None and await self._auth.handle(request, conn):
            return True
        if not request.path.startswith("/v2/") or request.path == "/v2/":
            return False
        await redirect(self._target() + request.path)(request, conn)
        return True


class Throttle(Front):
    """``429`` with ``headers`` for the first ``times`` requests (or until healed).

    ``throttled`` records when each 429 was sent (unix time).
    """

    def __init__(self, headers: Sequence[tuple[str, str]], times: int = 1 << 62) -> None:
        self.headers = list(headers)
        self.times = times
        self.throttled: list[float] = []

    async def handle(self, request: Request, conn: Connection) -> bool:
        if self.healed or len(self.throttled) >= self.times:
            return False
        self.throttled.append(time.time())
        body = error_body("TOOMANYREQUESTS", "slow down")
        await conn.respond(429, body, [("Content-Type", "application/json"), *self.headers])
        return True


class AddHeaders(Front):
    """Every answer carries ``headers`` too (garbage rate-limit headers, say)."""

    def __init__(self, headers: Sequence[tuple[str, str]]) -> None:
        self.headers = list(headers)

    async def handle(self, request: Request, conn: Connection) -> bool:
        conn.extra_headers = [*self.headers]
        return False


class Failing(Front):
    """Every request is answered by ``handler`` until healed."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def handle(self, request: Request, conn: Connection) -> bool:
        if self.healed:
            return False
        await self.handler(request, conn)
        return True
