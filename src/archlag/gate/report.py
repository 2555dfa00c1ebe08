"""What one look at a tag found, judged against the wanted platforms: values shared by every way
of looking (the registry itself, or a running archlag) and by the output.

Errors: :class:`NothingToExpectError` when no platform can be wanted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from archlag.core.platforms import Platform
from archlag.core.references import ImageReference
from archlag.registry import TagContent

# Where the wanted platforms came from (the JSON document's expected_from).
FROM_FLAGS = "platform_flags"  # --platform
FROM_RECENT_TAGS = "recent_tags"  # learned from the tags before the checked one
FROM_WATCH = "watch_platforms"  # the platforms of the watch in -c FILE
FROM_SERVER = "archlag_server"  # what the running archlag's publication of the tag expects


class NothingToExpectError(Exception):
    """No ``--platform`` was given and there is nothing to learn the platforms from."""


@dataclass(frozen=True, slots=True)
class Wanted:
    platforms: frozenset[Platform]
    source: str  # one of the FROM_* values
    learned_from: tuple[str, ...] = ()  # the other tags the platforms were learned from


@dataclass(frozen=True, slots=True)
class Timing:
    """When a platform appeared, as a running archlag measured it (``--server`` only)."""

    first_seen: float
    delay: float  # after the tag's first platform
    delay_uncertainty: float | None  # the bound of that delay; None when unknown
    source: str  # observed, registry or event


@dataclass(frozen=True, slots=True)
class Due:
    """When a missing platform is expected and when it is late, as a running archlag judges it
    from the repository's history (``--server`` only)."""

    late_after: float
    late: bool
    basis: str  # "history" (the repository's delays) or "stall_after" (too little history)
    expected_by: float | None = None
    typical: float | None = None  # how long after the first platform it usually appears
    observations: int = 0  # the measured releases that rests on


@dataclass(frozen=True, slots=True)
class Report:
    """One look at a tag, judged against the wanted platforms."""

    image: ImageReference  # with its tag
    expectation: Wanted
    content: TagContent | None  # None: the tag does not exist (yet)
    timings: Mapping[Platform, Timing] = field(default_factory=dict)
    due: Mapping[Platform, Due] = field(default_factory=dict)  # missing platforms (--server)

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


class Looker(Protocol):
    """A way of looking at tags: the registry itself, or a running archlag.

    Both raise :class:`~archlag.registry.RegistryError` subclasses for failures (documented by
    each implementation), so that ``check`` and ``wait`` treat them alike.
    """

    async def expectation(self, image: ImageReference) -> Wanted:
        """The wanted platforms when none were named (``--platform``, a watch's platforms)."""
        ...

    async def look(
        self, image: ImageReference, expectation: Wanted, previous: Report | None
    ) -> Report:
        """What the tag holds now (``previous``: the last look, to save requests)."""
        ...
