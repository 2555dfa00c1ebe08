"""What runs, judged against what is published: per platform a workload runs on, is the next
release out for it? Pure logic over a repository's snapshot; no I/O.

A running image is a (repository, tag or digest) on a platform, with how many containers run it
per discovery source. Its update state (:data:`STATES`) is

- ``current``: nothing newer is in view;
- ``available``: a newer release is published *for this platform*;
- ``waiting``: a newer release exists, but this platform is missing from every newer one (the
  release left this platform behind, or has not reached it yet): ``waiting_since`` is when the
  earliest of them was first seen;
- ``unknown``: archlag cannot tell yet (the repository was not read yet, a digest that no tag
  in view has, a moving tag whose running digest is not known, no tag of the same shape).

"Newer" follows the tag's *shape*: the tag with each run of digits replaced (``1.27-alpine`` is
``#.#-alpine``, ``v2.6.1`` is ``v#.#.#``), so a ``-alpine`` tag is only ever compared with
``-alpine`` tags, in numeric-aware version order (:func:`archlag.core.publication.version_key`).
A tag without digits (``latest``, ``stable``) is a *moving* tag: it is newer when its digest for
this platform differs from the one that runs. A reference by digest is the tag in view whose
index, or whose manifest for the platform, has that digest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from archlag.core.platforms import Platform
from archlag.core.publication import Publication, version_key
from archlag.core.snapshots import RepositorySnapshot, RunningImage, RunningStatus, TagView
from archlag.core.status import PENDING

CURRENT, AVAILABLE, WAITING, UNKNOWN = "current", "available", "waiting", "unknown"
STATES = (CURRENT, AVAILABLE, WAITING, UNKNOWN)
_DIGITS = re.compile(r"[0-9]+")


def shape(tag: str) -> str:
    """``1.27-alpine`` -> ``#.#-alpine``: tags of one shape are releases of one line."""
    return _DIGITS.sub("#", tag)


def judge(image: RunningImage, repo: RepositorySnapshot | None) -> RunningStatus:
    """The update state of ``image``, from its repository's snapshot (None: not watched yet)."""
    if repo is None:
        return RunningStatus(image, image.tag, UNKNOWN, reason="not watched yet")
    if not repo.tags and repo.figures.status.reason == PENDING:
        return RunningStatus(image, image.tag, UNKNOWN, reason="not read yet")
    tag = image.tag if image.tag is not None else _tag_of(image.digest, image.platform, repo.tags)
    if tag is None:
        return RunningStatus(image, None, UNKNOWN, reason="no tag in view has this digest")
    if not _DIGITS.search(tag):
        return _moving(image, tag, repo)
    return _versioned(image, tag, repo.tags)


def judge_all(
    images: Iterable[RunningImage], repositories: Mapping[tuple[str, str], RepositorySnapshot]
) -> tuple[RunningStatus, ...]:
    """Every running image judged, in a stable order (repository, tag, platform)."""
    judged = [judge(i, repositories.get((i.registry, i.repository))) for i in images]
    return tuple(sorted(judged, key=_order))


def _order(status: RunningStatus) -> tuple[str, ...]:
    image = status.image
    platform, digest = str(image.platform), image.digest or ""
    return (image.registry, image.repository, status.tag or "", platform, digest)


def _versioned(image: RunningImage, tag: str, views: Iterable[TagView]) -> RunningStatus:
    mine, running = shape(tag), version_key(tag)
    same = [v for v in views if shape(v.state.tag) == mine]
    if not same:
        return RunningStatus(image, tag, UNKNOWN, reason="no tag of the same shape in view")
    newer = sorted(
        (v for v in same if version_key(v.state.tag) > running),
        key=lambda v: version_key(v.state.tag),
    )
    if not newer:
        return RunningStatus(image, tag, CURRENT)
    platform = image.platform
    out = [v for v in newer if _has(v.state.publication, platform)]
    if out:
        return RunningStatus(image, tag, AVAILABLE, newest=out[-1].state.tag)
    first = min(newer, key=lambda v: v.state.publication.first_seen)
    return RunningStatus(
        image, tag, WAITING, waiting_for=newer[-1].state.tag,
        waiting_since=first.state.publication.first_seen,
    )  # fmt: skip


def _moving(image: RunningImage, tag: str, repo: RepositorySnapshot) -> RunningStatus:
    view = next((v for v in repo.tags if v.state.tag == tag), None)
    if view is None:
        return RunningStatus(image, tag, UNKNOWN, reason="the tag is not in view")
    if image.digest is None:
        return RunningStatus(image, tag, UNKNOWN, reason="which digest runs is not known")
    publication = view.state.publication
    if image.digest == view.state.digest or _platform_digest(publication, image.platform) == (
        image.digest
    ):
        return RunningStatus(image, tag, CURRENT)
    if _has(publication, image.platform):
        return RunningStatus(image, tag, AVAILABLE, newest=tag)
    return RunningStatus(image, tag, WAITING, waiting_for=tag, waiting_since=publication.first_seen)


def _has(publication: Publication, platform: Platform) -> bool:
    state = publication.platforms.get(platform)
    return state is not None and state.present


def _platform_digest(publication: Publication, platform: Platform) -> str | None:
    state = publication.platforms.get(platform)
    return state.digest if state is not None else None


def _tag_of(digest: str | None, platform: Platform, views: Iterable[TagView]) -> str | None:
    """The newest tag in view whose index, or manifest for ``platform``, has ``digest``."""
    if digest is None:
        return None
    found = [
        v.state.tag
        for v in views
        if v.state.digest == digest or _platform_digest(v.state.publication, platform) == digest
    ]
    return max(found, key=version_key) if found else None
