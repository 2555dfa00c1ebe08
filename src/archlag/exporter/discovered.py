"""What discovery found, turned into what the exporter does: watches and judged running images.

- :func:`merge_watches`: the configured watches, then one watch per discovered repository that
  no configured watch covers (a configured watch wins: its settings, no duplicate polling), with
  the discovery's default settings;
- :func:`running_images`: sightings (one container or file service each) counted per image
  reference and platform, per source;
- :class:`RunningJudge`: the running images judged against their repositories' snapshots
  (:func:`archlag.core.updates.judge_all`), again only when discovery or one of those
  repositories changed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from archlag.config import Watch, WatchSettings
from archlag.core.platforms import Platform
from archlag.core.references import ImageReference
from archlag.core.snapshots import RepositorySnapshot, RunningImage, RunningStatus
from archlag.core.updates import judge_all

Key = tuple[str, str]  # (registry, repository)


class Sighting(Protocol):
    """One container (or file service) that runs an image, as a discovery source saw it."""

    @property
    def registry(self) -> str: ...
    @property
    def repository(self) -> str: ...
    @property
    def tag(self) -> str | None: ...
    @property
    def digest(self) -> str | None: ...
    @property
    def platform(self) -> Platform | None: ...
    @property
    def source(self) -> str: ...


def merge_watches(
    configured: Iterable[Watch], discovered: Iterable[Key], settings: WatchSettings
) -> tuple[Watch, ...]:
    """The configured watches, then a watch of each discovered repository none of them covers."""
    watches = list(configured)
    covered = {(w.registry, w.repository) for w in watches}
    for registry, repository in sorted(set(discovered) - covered):
        watches.append(Watch(ImageReference(registry, repository), settings))
    return tuple(watches)


def running_images(sightings: Iterable[Sighting]) -> tuple[RunningImage, ...]:
    """Sightings counted per (image reference, platform) and source. A sighting whose platform
    is not known (a file that does not say, with no ``files.platforms``) runs on no platform
    archlag can judge: its repository is watched, but it is not counted here."""
    counts: dict[tuple[str, str, str | None, str | None, Platform], Counter[str]] = {}
    for seen in sightings:
        if seen.platform is None:
            continue
        key = (seen.registry, seen.repository, seen.tag, seen.digest, seen.platform)
        counts.setdefault(key, Counter())[seen.source] += 1
    return tuple(
        RunningImage(registry, repository, tag, digest, platform, dict(sources))
        for (registry, repository, tag, digest, platform), sources in counts.items()
    )


class RunningJudge:
    """Judged running images, computed again only when something they depend on changed."""

    def __init__(self, repository: Callable[[str, str], RepositorySnapshot | None]) -> None:
        self._repository = repository
        self._images: tuple[RunningImage, ...] = ()
        self._generation = 0
        self._seen: tuple[int, Mapping[Key, int]] | None = None
        self._judged: tuple[RunningStatus, ...] = ()

    def update(self, images: tuple[RunningImage, ...]) -> None:
        """What runs now (discovery changed)."""
        self._images = images
        self._generation += 1

    def statuses(self) -> tuple[RunningStatus, ...]:
        keys = {(i.registry, i.repository) for i in self._images}
        repos = {k: r for k in keys if (r := self._repository(*k)) is not None}
        seen = (self._generation, {k: r.generation for k, r in repos.items()})
        if seen != self._seen:
            self._judged = judge_all(self._images, repos)
            self._seen = seen
        return self._judged
