"""What discovery found, as one frozen value: :class:`DiscoverySnapshot`.

It holds the sightings of every source (within ``discovery.max_images``), the same grouped per
image and platform with how many containers run each (:class:`DiscoveredImage`, kept for
``discovery.grace`` after the last one stopped), and each source's status
(:class:`SourceState`). Two snapshots are equal when a reader would show the same thing, so a
listener can tell a change from a repeat.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlag.config.settings import DEFAULT_MAX_IMAGES
from archlag.core.platforms import Platform
from archlag.discovery.sighting import Sighting, SourceName


@dataclass(frozen=True, slots=True)
class SourceState:
    name: SourceName
    up: bool  # False before its first reading, and while its world cannot be read
    reason: str  # why it is down; while up, something partial ("nodes: forbidden"), or ""
    since: float  # when it went up or down
    sightings: int  # in its last known set (kept while it is down)
    images: int  # distinct images (reference and platform) among them
    invalid: int  # items its last reading could not read (each was logged)
    refused: int  # of its images, those left out because discovery.max_images was reached


@dataclass(frozen=True, slots=True)
class DiscoveredImage:
    """An image on a platform as one source sees it: how many containers run it."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None
    platform: Platform | None
    source: SourceName
    containers: int  # 0 once it stopped running, until grace has passed
    gone_since: float | None = None  # when it stopped running; None while it runs

    def sort_key(self) -> tuple[str, ...]:
        return (
            self.registry, self.repository, self.tag or "", self.digest or "",
            str(self.platform or ""), self.source,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class DiscoverySnapshot:
    sightings: tuple[Sighting, ...] = ()  # running now, sorted
    images: tuple[DiscoveredImage, ...] = ()  # running now or within grace, sorted
    sources: tuple[SourceState, ...] = ()  # the configured sources, in SOURCES order
    refused_repositories: int = 0  # repositories left out by max_images
    max_images: int = DEFAULT_MAX_IMAGES

    def repositories(self) -> tuple[tuple[str, str], ...]:
        """The (registry, repository) pairs to watch, sorted: every image here, gone or not."""
        return tuple(sorted({(image.registry, image.repository) for image in self.images}))

    def source(self, name: SourceName) -> SourceState | None:
        return next((status for status in self.sources if status.name == name), None)
