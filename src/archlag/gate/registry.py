"""Release gating: is every wanted platform of one image tag published yet?

This is the logic behind ``archlag check`` and ``archlag wait``; the command line wires it and
:mod:`archlag.gate_output` renders it. Each look at the tag is a ``HEAD`` first (free of Docker
Hub pull quota) and a ``GET`` of the manifest, by digest, only when the digest changed since the
previous look. Attestation manifests never count as platforms (:func:`fetch_content` drops them).

Which platforms are wanted: the ``--platform`` values, or else, as in the exporter, the union of
the platforms of the three most recent tags *older* than the one checked. A one-shot command has
no first-seen times, so older means a lower version here; a tag without a version in its name
(``latest``, ``edge``) learns from the three highest versions instead.

Errors: registry failures are :class:`~archlag.registry.RegistryError` (tree in
:mod:`archlag.registry.errors`); :class:`NothingToExpectError` when no platform can be wanted.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from archlag.model import (
    EXPECTED_FROM_RECENT_TAGS,
    PlatformState,
    Publication,
    TagState,
    select_tags,
    version_key,
)
from archlag.platforms import Platform
from archlag.reference import ImageReference
from archlag.registry import (
    NotFoundError,
    RateLimitedError,
    RegistryClient,
    RegistryConnectionError,
    RegistryError,
    RegistryTimeoutError,
    ServerError,
    TagContent,
    fetch_content,
)

FROM_FLAGS = "platform_flags"
FROM_RECENT_TAGS = "recent_tags"
# Failures worth another round of `wait`; anything else (denied, malformed) will not heal itself.
TRANSIENT_ERRORS = (RegistryConnectionError, RegistryTimeoutError, ServerError, RateLimitedError)


class NothingToExpectError(Exception):
    """No ``--platform`` was given and the repository has no other tags to learn them from."""


@dataclass(frozen=True, slots=True)
class Expectation:
    platforms: frozenset[Platform]
    source: str  # FROM_FLAGS or FROM_RECENT_TAGS
    learned_from: tuple[str, ...] = ()  # the other tags the platforms were learned from


@dataclass(frozen=True, slots=True)
class Report:
    """One look at a tag, judged against the wanted platforms."""

    image: ImageReference  # with its tag
    expectation: Expectation
    content: TagContent | None  # None: the tag does not exist (yet)

    @property
    def found(self) -> bool:
        return self.content is not None

    @property
    def present(self) -> frozenset[Platform]:
        return frozenset(self.content.platforms) if self.content is not None else frozenset()

    @property
    def missing(self) -> tuple[Platform, ...]:
        return tuple(sorted(self.expectation.platforms - self.present))

    @property
    def complete(self) -> bool:
        """Every wanted platform is there (with nothing wanted: the tag has some platform)."""
        return bool(self.present) and not self.missing


@dataclass(frozen=True, slots=True)
class WaitResult:
    report: Report
    waited: float  # seconds
    timed_out: bool


async def look(
    client: RegistryClient, repository: str, tag: str, previous: TagContent | None = None
) -> TagContent | None:
    """What the tag holds now, or None if it does not exist; ``GET`` only on a new digest."""
    try:
        head = await client.head_manifest(repository, tag)
        if previous is not None and head.digest is not None and head.digest == previous.digest:
            return previous
        return await fetch_content(client, repository, head.digest or tag)
    except NotFoundError:  # no such tag or repository, or deleted between HEAD and GET
        return None


async def expectation_for(
    client: RegistryClient, image: ImageReference, wanted: frozenset[Platform]
) -> Expectation:
    """The wanted platforms: ``wanted`` if given, else learned from the tags before this one.

    Raises:
        NothingToExpectError: nothing given and no other tag to learn from.
        RegistryError: the registry failed.
    """
    if wanted:
        return Expectation(wanted, FROM_FLAGS)
    try:
        listed = await client.list_tags(image.repository)
    except NotFoundError:
        listed = []
    target = image.tag or ""
    others = _reference_tags(listed, target)
    states: dict[str, TagState] = {}
    for tag in others:
        content = await look(client, image.repository, tag)
        if content is not None:
            states[tag] = _state(tag, content)
    if not states and (others or not any(t != target for t in listed)):
        raise NothingToExpectError(
            f"{image.registry}/{image.repository} has no other tags to learn the expected "
            "platforms from: name them with --platform"
        )
    # Nothing older (the oldest version): judged by its own platforms, as the exporter does.
    learned = frozenset().union(*(s.publication.present for s in states.values()))
    return Expectation(learned, FROM_RECENT_TAGS, tuple(t for t in others if t in states))


def _reference_tags(listed: list[str], target: str) -> list[str]:
    """The tags a check of ``target`` learns from: the highest versions below it, or, for a tag
    with no version in its name, the highest versions of all."""
    others = [t for t in listed if t != target]
    if any(char.isdigit() for char in target):
        others = [t for t in others if version_key(t) < version_key(target)]
    return select_tags(others, {}, EXPECTED_FROM_RECENT_TAGS)


def _state(tag: str, content: TagContent) -> TagState:
    """A tag as the exporter's model sees it; every tag counts as first seen at the same time,
    so that version order alone decides which tags are the newest."""
    platforms = {p: PlatformState(d, 0.0) for p, d in content.platforms.items()}
    return TagState(tag, content.digest, Publication(1, 0.0, platforms), 0.0)


async def check(
    client: RegistryClient, image: ImageReference, wanted: frozenset[Platform]
) -> Report:
    """One look at ``image`` (which has a tag).

    Raises:
        NothingToExpectError: see :func:`expectation_for`.
        RegistryError: the registry failed.
    """
    expectation = await expectation_for(client, image, wanted)
    return Report(image, expectation, await look(client, image.repository, image.tag or ""))


async def wait(
    client: RegistryClient,
    image: ImageReference,
    expectation: Expectation,
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

    ``on_round`` hears each look and the seconds elapsed. A transient registry failure after
    the first look goes to ``on_error`` and the next round; the last look is at the deadline.

    Raises:
        RegistryError: the first look failed, or a later one failed in a way that will not heal
            (denied, malformed answer).
    """
    repository, tag = image.repository, image.tag or ""
    started = clock()
    deadline = started + give_up_after
    report = Report(image, expectation, await look(client, repository, tag))
    on_round(report, clock() - started)
    pause = interval
    while not report.complete:
        now = clock()
        if now >= deadline:
            return WaitResult(report, now - started, timed_out=True)
        await sleep(min(pause, deadline - now))
        pause = interval
        try:
            content = await look(client, repository, tag, report.content)
        except TRANSIENT_ERRORS as error:
            on_error(error, clock() - started)
            if isinstance(error, RateLimitedError) and error.retry_after:
                pause = max(interval, error.retry_after)
            continue
        report = Report(image, expectation, content)
        on_round(report, clock() - started)
    return WaitResult(report, clock() - started, timed_out=False)
