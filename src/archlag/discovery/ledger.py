"""The sources' last known sets, merged into snapshots: grace and the bound on images. No I/O.

:class:`Ledger` is owned by the runner (:mod:`archlag.discovery.engine`) and changed only by its
methods, each given the time: a source published a set, went down (its last set is kept), was
added or removed by a reload. :meth:`Ledger.settle` turns that into a
:class:`~archlag.discovery.census.DiscoverySnapshot`:

- an image (registry, repository, tag, digest, platform, source) that no set holds any more is
  kept with 0 containers for ``grace`` after the reading that lost it, then dropped;
- at most ``max_images`` repositories are kept: those already kept stay, new ones come in name
  order while there is room, the rest are counted (``refused_repositories``, and each source's
  ``refused`` images) and their sightings left out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from archlag.core.platforms import Platform
from archlag.discovery.census import DiscoveredImage, DiscoverySnapshot, SourceState
from archlag.discovery.interface import Reading
from archlag.discovery.sighting import SOURCES, Sighting, SourceName

ImageKey = tuple[str, str, str | None, str | None, Platform | None, SourceName]
NOT_READ_YET = "not read yet"


def image_key(found: Sighting) -> ImageKey:
    return (found.registry, found.repository, found.tag, found.digest, found.platform, found.source)


@dataclass(slots=True)
class _Known:
    reading: Reading
    up: bool
    reason: str
    since: float


class Ledger:
    def __init__(self, grace: float, max_images: int) -> None:
        self.grace, self.max_images = grace, max_images
        self._known: dict[SourceName, _Known] = {}
        self._gone: dict[ImageKey, float] = {}  # stopped running at
        self._kept: dict[tuple[str, str], None] = {}  # repositories kept, in the order they came

    def add(self, name: SourceName, now: float) -> None:
        """A source starts: down until its first reading."""
        if name not in self._known:
            self._known[name] = _Known(Reading(()), False, NOT_READ_YET, now)

    def remove(self, name: SourceName) -> None:
        """A source left the configuration: what it saw leaves now, without grace."""
        self._known.pop(name, None)
        self._gone = {key: at for key, at in self._gone.items() if key[5] != name}

    def published(self, name: SourceName, reading: Reading, now: float) -> None:
        """The source's complete set at ``now``: images it no longer holds stopped running."""
        known = self._known.get(name)
        since = known.since if known is not None and known.up else now
        running = {image_key(found) for found in reading.sightings}
        if known is not None:
            for found in known.reading.sightings:
                if image_key(found) not in running:
                    self._gone.setdefault(image_key(found), now)
        for key in running:
            self._gone.pop(key, None)
        self._known[name] = _Known(reading, True, reading.note, since)

    def down(self, name: SourceName, reason: str, now: float) -> None:
        """The source cannot read its world: its last set is kept, as it was."""
        known = self._known.get(name) or _Known(Reading(()), False, reason, now)
        since = now if known.up else known.since
        self._known[name] = _Known(known.reading, False, reason, since)

    def next_expiry(self) -> float | None:
        """When the next image that stopped running leaves, if one waits."""
        return min(self._gone.values()) + self.grace if self._gone else None

    def settle(self, now: float) -> DiscoverySnapshot:
        """The snapshot at ``now``; images whose grace ran out are dropped."""
        running = Counter(
            image_key(found) for known in self._known.values() for found in known.reading.sightings
        )
        self._gone = {key: at for key, at in self._gone.items() if now - at < self.grace}
        wanted = {key[:2] for key in running} | {key[:2] for key in self._gone}
        kept = self._keep(wanted)
        images = [_image(key, count, None) for key, count in running.items() if key[:2] in kept]
        images += [_image(key, 0, at) for key, at in self._gone.items() if key[:2] in kept]
        sightings: list[Sighting] = []
        statuses = []
        for name in (name for name in SOURCES if name in self._known):
            known = self._known[name]
            taken = [f for f in known.reading.sightings if (f.registry, f.repository) in kept]
            sightings += taken
            images_seen = {image_key(f) for f in known.reading.sightings}
            statuses.append(SourceState(
                name, known.up, known.reason, known.since, len(known.reading.sightings),
                len(images_seen), known.reading.invalid,
                sum(1 for key in images_seen if key[:2] not in kept),
            ))  # fmt: skip
        return DiscoverySnapshot(
            tuple(sorted(sightings, key=Sighting.sort_key)),
            tuple(sorted(images, key=DiscoveredImage.sort_key)),
            tuple(statuses),
            len(wanted - kept),
            self.max_images,
        )

    def _keep(self, wanted: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """The repositories kept: those kept before first, then new ones in name order."""
        self._kept = {repo: None for repo in self._kept if repo in wanted}
        for repo in sorted(wanted - self._kept.keys()):
            if len(self._kept) >= self.max_images:
                break
            self._kept[repo] = None
        return set(self._kept)


def _image(key: ImageKey, containers: int, gone_since: float | None) -> DiscoveredImage:
    registry, repository, tag, digest, platform, source = key
    return DiscoveredImage(
        registry, repository, tag, digest, platform, source, containers, gone_since
    )
