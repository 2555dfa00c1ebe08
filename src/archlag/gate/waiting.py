"""``check`` (one look) and ``wait`` (look until complete or timed out), for any :class:`Looker`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio

from archlag.core.references import ImageReference
from archlag.gate.report import Looker, Report, WaitResult, Wanted
from archlag.registry import (
    RateLimitedError,
    RegistryConnectionError,
    RegistryError,
    RegistryTimeoutError,
    ServerError,
)

# Failures worth another round of `wait`; anything else (denied, malformed) will not heal itself.
TRANSIENT_ERRORS = (RegistryConnectionError, RegistryTimeoutError, ServerError, RateLimitedError)


async def check(looker: Looker, image: ImageReference, preset: Wanted | None) -> Report:
    """One look at ``image`` (which has a tag), judged by ``preset`` or the looker's default.

    Raises:
        NothingToExpectError: nothing wanted and nothing to learn from.
        RegistryError: the registry (or the archlag server) failed.
    """
    expectation = preset or await looker.expectation(image)
    return await looker.look(image, expectation, None)


async def wait(
    looker: Looker,
    image: ImageReference,
    expectation: Wanted,
    *,
    give_up_after: float,
    interval: float,
    on_round: Callable[[Report, float], None] = lambda report, elapsed: None,
    on_error: Callable[[RegistryError, float], None] = lambda error, elapsed: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> WaitResult:
    """Look every ``interval`` seconds until the tag is complete or ``give_up_after`` seconds
    have passed.

    ``on_round`` hears each look and the seconds elapsed. A transient failure after the first
    look goes to ``on_error`` and the next round; the last look is at the deadline.

    Raises:
        RegistryError: the first look failed, or a later one failed in a way that will not heal
            (denied, malformed answer).
    """
    started = clock()
    deadline = started + give_up_after
    report = await looker.look(image, expectation, None)
    on_round(report, clock() - started)
    pause = interval
    while not report.complete:
        now = clock()
        if now >= deadline:
            return WaitResult(report, now - started, timed_out=True)
        await sleep(min(pause, deadline - now))
        pause = interval
        try:
            report = await looker.look(image, expectation, report)
        except TRANSIENT_ERRORS as error:
            on_error(error, clock() - started)
            if isinstance(error, RateLimitedError) and error.retry_after:
                pause = max(interval, error.retry_after)
            continue
        on_round(report, clock() - started)
    return WaitResult(report, clock() - started, timed_out=False)
