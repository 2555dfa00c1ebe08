"""``POST /events/<name>`` (and ``/events/<name>/<secret>`` for senders that sign nothing).

In this order: an unknown receiver is a 404; a body over 1 MiB a 413 (``malformed``); a request
without the receiver's proof a 401 (``unauthorized``), and nothing else happens; a body that is
not what the sender sends a 400 (``malformed``); an accepted event beyond the receiver's
``events_per_second`` a 429 (``rate_limited``), nothing scheduled. Otherwise 202: events for
watched repositories schedule a check (``accepted``), the others are counted (``ignored``).
Answers are short JSON and never echo what the sender sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from archlag.config import Receiver
from archlag.events.budget import EventBudget
from archlag.events.dispatch import Delivery, Dispatcher
from archlag.events.event_tally import EventTally
from archlag.events.payloads import MAX_BODY_BYTES, MalformedPayloadError, Parsed, parse
from archlag.events.proof import proven

_MAX_BUDGETS = 256


class _Refused(Exception):
    """A request answered without scheduling anything; ``result`` is counted (if not "")."""

    def __init__(self, status: int, result: str, message: str) -> None:
        super().__init__(message)
        self.status, self.result, self.message = status, result, message


def event_routes(
    receivers: Callable[[], Sequence[Receiver]],
    dispatcher: Dispatcher,
    metrics: EventTally,
    *,
    clock: Callable[[], float] = time.time,
) -> list[Route]:
    """The routes; ``receivers`` gives the receivers of the running configuration."""
    budgets: dict[Receiver, EventBudget] = {}

    def budget(receiver: Receiver) -> EventBudget:
        """Each receiver's budget, a new one when a reload changed the receiver."""
        if receiver not in budgets:
            if len(budgets) > _MAX_BUDGETS:  # receivers of old configurations
                budgets.clear()
            budgets[receiver] = EventBudget(receiver.events_per_second)
        return budgets[receiver]

    async def accept(receiver: Receiver, request: Request) -> tuple[Parsed, Delivery]:
        """What the request delivers, or :class:`_Refused` with the answer."""
        body = await _body(request)
        if not proven(receiver, request.headers, body, request.path_params.get("secret")):
            raise _Refused(401, "unauthorized", "the request does not prove this receiver's secret")
        metrics.proven(receiver.name, clock())
        try:
            parsed = parse(receiver.type, body, request.headers)
        except MalformedPayloadError as exc:
            raise _Refused(400, "malformed", str(exc)) from None
        delivery = dispatcher.route(receiver, parsed.events)
        if delivery.accepted and not budget(receiver).take():
            limit = receiver.events_per_second
            raise _Refused(429, "rate_limited", f"more than {limit} events a second")
        return parsed, delivery

    async def receive(request: Request) -> Response:
        name = request.path_params["name"]
        receiver = next((r for r in receivers() if r.name == name), None)
        if receiver is None:
            return _answer(404, "no such receiver")
        try:
            parsed, delivery = await accept(receiver, request)
        except _Refused as refused:
            if refused.result:
                metrics.received(receiver.name, refused.result)
            return _answer(refused.status, refused.message)
        dispatcher.deliver(receiver, delivery)
        ignored = parsed.ignored + delivery.ignored
        metrics.received(receiver.name, "accepted", len(delivery.accepted))
        metrics.received(receiver.name, "ignored", ignored)
        return JSONResponse({"accepted": len(delivery.accepted), "ignored": ignored}, 202)

    return [
        Route("/events/{name}", receive, methods=["POST"]),
        Route("/events/{name}/{secret}", receive, methods=["POST"]),
    ]


async def _body(request: Request) -> bytes:
    """The body, refused beyond :data:`MAX_BODY_BYTES` (by Content-Length or as it streams)."""
    too_large = _Refused(413, "malformed", f"bodies are at most {MAX_BODY_BYTES} bytes")
    declared = request.headers.get("content-length", "")
    if (
        declared.isascii()
        and declared.isdigit()
        and (len(declared) > 12 or int(declared) > MAX_BODY_BYTES)
    ):
        raise too_large
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:
        raise _Refused(400, "", "the body did not arrive") from None
    return b"".join(chunks)


def _answer(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
