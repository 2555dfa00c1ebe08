"""What discovery found, turned into what the exporter does: watches and judged running images.

- :class:`DiscoveryLink`: runs :class:`archlag.discovery.Discovery` when the configuration has a
  ``discovery`` section (and starts, reconfigures or stops it on a reload); at every change it
  hands the repositories to the supervisor and what runs to the judge;

- :func:`merge_watches`: the configured watches, then one watch per discovered repository that
  no configured watch covers (a configured watch wins: its settings, no duplicate polling), with
  the discovery's default settings;
- :func:`images_of`: discovery's images counted per image reference and platform, with the
  containers of each source;
- :class:`RunningJudge`: the running images judged against their repositories' snapshots
  (:func:`archlag.core.updates.judge_all`), again only when discovery or one of those
  repositories changed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from anyio.abc import TaskGroup

from archlag.config import DiscoverySettings, Watch, WatchSettings
from archlag.core.platforms import Platform
from archlag.core.references import ImageReference
from archlag.core.snapshots import RepositorySnapshot, RunningImage, RunningStatus, SourceStatus
from archlag.core.updates import judge_all
from archlag.discovery import DiscoveredImage, Discovery, DiscoverySnapshot

Key = tuple[str, str]  # (registry, repository)


def merge_watches(
    configured: Iterable[Watch], discovered: Iterable[Key], settings: WatchSettings
) -> tuple[Watch, ...]:
    """The configured watches, then a watch of each discovered repository none of them covers."""
    watches = list(configured)
    covered = {(w.registry, w.repository) for w in watches}
    for registry, repository in sorted(set(discovered) - covered):
        watches.append(Watch(ImageReference(registry, repository), settings))
    return tuple(watches)


class Supervised(Protocol):
    def discovered(self, repositories: Iterable[Key]) -> object: ...


class DiscoveryLink:
    """The discovery of the running configuration, wired to the supervisor and the judge."""

    def __init__(self, supervisor: Supervised, judge: RunningJudge) -> None:
        self._supervisor = supervisor
        self._judge = judge
        self._discovery: Discovery | None = None
        self._group: TaskGroup | None = None

    def start(self, group: TaskGroup, settings: DiscoverySettings | None) -> None:
        self._group = group
        self.reconfigure(settings)

    def reconfigure(self, settings: DiscoverySettings | None) -> None:
        """A reload: start discovery, change its sources, or stop them all (``None``)."""
        if self._discovery is not None:
            self._discovery.reconfigure(settings or DiscoverySettings())
        elif settings is not None and self._group is not None:
            self._discovery = Discovery(settings, on_change=self._changed)
            self._group.start_soon(self._discovery.run)

    def sources(self) -> tuple[SourceStatus, ...]:
        """The discovery sources' health, for ``/metrics``."""
        if self._discovery is None:
            return ()
        return tuple(
            SourceStatus(state.name, state.up, state.images, state.refused, state.reason)
            for state in self._discovery.snapshot().sources
        )

    def _changed(self, snapshot: DiscoverySnapshot) -> None:
        self._supervisor.discovered(snapshot.repositories())
        self._judge.update(images_of(snapshot.images))


def images_of(found: Iterable[DiscoveredImage]) -> tuple[RunningImage, ...]:
    """Discovery's images (one per source) as running images with containers per source. An
    image whose platform is not known (a file that does not say, without ``files.platforms``)
    runs on no platform archlag can judge: its repository is watched, it is not counted here.
    One that stopped running is counted with 0 containers until discovery drops it (grace)."""
    counts: dict[tuple[str, str, str | None, str | None, Platform], Counter[str]] = {}
    for image in found:
        if image.platform is None:
            continue
        key = (image.registry, image.repository, image.tag, image.digest, image.platform)
        counts.setdefault(key, Counter())[image.source] += image.containers
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
