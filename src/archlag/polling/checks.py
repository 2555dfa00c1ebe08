"""Looking at tags: ``HEAD`` each name a tag is made of, ``GET`` only what changed.

A tag is usually one name. With a watch's ``platform_tags``, it is its own name (if it exists)
plus its per-architecture suffix tags; their digests combine into one, so an unchanged tag still
costs only ``HEAD`` requests. Manifests archlag cannot read are counted by reason and not fetched
again until their digest changes.

A failure while checking one tag is that tag's: it is recorded with a status reason
(:func:`reason_for`) and a short message, and the other tags are checked as usual.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import anyio

from archlag import logs
from archlag.core.platforms import Platform
from archlag.core.publication import Content, TagState
from archlag.core.status import DENIED, ERROR, NOT_FOUND, RATE_LIMITED, UNREACHABLE, UNREADABLE
from archlag.polling.source import TagSource
from archlag.registry import (
    NotFoundError,
    RateLimitedError,
    RegistryConnectionError,
    RegistryError,
    RegistryTimeoutError,
    ServerError,
    UnauthorizedError,
)
from archlag.registry.errors import UnsupportedManifestError

log = logging.getLogger("archlag.poller")


@dataclass(frozen=True, slots=True)
class Target:
    tag: str
    names: tuple[str, ...]  # registry tags to read: the tag itself and/or its suffix tags


@dataclass(slots=True)
class Checks:
    """What the checks of one poll found."""

    contents: dict[str, Content | None] = field(default_factory=dict)  # None: digest unchanged
    failed: dict[str, tuple[str, str]] = field(default_factory=dict)  # tag -> (reason, message)
    checked: set[str] = field(default_factory=set)  # every tag looked at
    retry_after: float = 0.0
    unsupported: list[str] = field(default_factory=list)  # reasons, one per refused manifest


class TagChecker:
    def __init__(self, source: TagSource, repository: str, context: Mapping[str, str]) -> None:
        self._source = source
        self._repository = repository
        self._context = context
        self._refused: dict[str, str] = {}  # tag -> digest archlag could not read

    async def check(
        self, targets: Sequence[Target], previous: Mapping[str, TagState], *, with_created: bool
    ) -> Checks:
        checks = Checks()
        async with anyio.create_task_group() as group:
            for target in targets:
                group.start_soon(self._one, target, previous.get(target.tag), with_created, checks)
        return checks

    async def _one(
        self, target: Target, previous: TagState | None, with_created: bool, checks: Checks
    ) -> None:
        repository, tag = self._repository, target.tag
        checks.checked.add(tag)
        combined = None
        try:
            digests, refusal = await self._heads(target)
            combined = combine(target.names, digests)
            if combined is not None and self._refused.get(tag) == combined:
                return  # refused before, and counted then
            if refusal is not None:
                raise refusal
            if combined is not None and previous is not None and combined == previous.digest:
                checks.contents[tag] = None
                return
            contents = [
                await self._source.fetch(repository, name, digest, with_created=with_created)
                for name, digest in zip(target.names, digests, strict=True)
            ]
            checks.contents[tag] = merge(target.names, contents)
            self._refused.pop(tag, None)
        except NotFoundError:
            logs.event(log, logging.INFO, "tag_vanished", **self._context, tag=tag)
        except UnsupportedManifestError as exc:
            checks.unsupported.append(exc.reason)
            if combined is not None:
                self._refused[tag] = combined
            logs.event(log, logging.WARNING, "manifest_unsupported", **self._context, tag=tag,
                       reason=exc.reason, error=exc.message)  # fmt: skip
        except RegistryError as exc:
            checks.failed[tag] = (reason_for(exc), exc.message)
            if isinstance(exc, RateLimitedError) and exc.retry_after:
                checks.retry_after = max(checks.retry_after, exc.retry_after)
            logs.event(log, logging.WARNING, "tag_check_failed", **self._context, tag=tag,
                       result=exc.result, error=exc.message)  # fmt: skip
        except Exception:  # a bug or an escaped parser error: this tag fails, the poll goes on
            checks.failed[tag] = (ERROR, "archlag failed while checking this tag (see the log)")
            log.exception(
                "tag_check_crashed", extra={"archlag_fields": {**self._context, "tag": tag}}
            )

    async def _heads(
        self, target: Target
    ) -> tuple[list[str | None], UnsupportedManifestError | None]:
        """The digest of each name of ``target`` (``HEAD``), and a refusal whose digest is
        known: a schema 1 manifest is refused at its ``HEAD``, and its digest is what lets
        archlag remember the refusal instead of counting it again at every poll."""
        digests: list[str | None] = []
        refusal = None
        for name in target.names:
            try:
                digests.append(await self._source.head_digest(self._repository, name))
            except UnsupportedManifestError as exc:
                if exc.digest is None:
                    raise
                digests.append(exc.digest)
                refusal = refusal or exc
        return digests, refusal


def reason_for(error: RegistryError) -> str:
    """The watch status reason for a registry error (the tree in registry/errors.py)."""
    kinds: list[tuple[type[RegistryError] | tuple[type[RegistryError], ...], str]] = [
        (NotFoundError, NOT_FOUND),
        (UnauthorizedError, DENIED),
        (RateLimitedError, RATE_LIMITED),
        ((ServerError, RegistryTimeoutError, RegistryConnectionError), UNREACHABLE),
    ]
    return next((reason for cls, reason in kinds if isinstance(error, cls)), UNREADABLE)


def combine(names: Sequence[str], digests: Sequence[str | None]) -> str | None:
    """One digest for a tag read from several names (None if any digest is unknown)."""
    if len(names) == 1:
        return digests[0]
    if any(d is None for d in digests):
        return None
    joined = "\n".join(f"{name}@{digest}" for name, digest in zip(names, digests, strict=True))
    return "sha256:" + hashlib.sha256(joined.encode()).hexdigest()


def merge(names: Sequence[str], contents: Sequence[Content]) -> Content:
    """The tag's content from its parts; the tag's own index wins over suffix tags."""
    if len(contents) == 1:
        return contents[0]
    platforms: dict[Platform, str] = {}
    pushed: dict[Platform, float] = {}
    built: dict[Platform, float] = {}
    for content in reversed(contents):  # names[0] is the tag itself when it exists
        platforms.update(content.platforms)
        pushed.update(content.pushed)
        built.update(content.built)
    digest = combine(names, [c.digest for c in contents])
    assert digest is not None  # every fetched content has a digest
    return Content(digest, platforms, pushed, built)
