"""What one poll reads before it checks anything: the listing as the watch sees it, and which tags
are due for a look.

:class:`ListingReader` turns the names a registry listed into a :class:`Listing` (valid base
tags, per-arch suffix tags grouped under them, the view that :func:`archlag.polling.listing.plan`
derives). Filtering and ranking 100,000 tags costs a while, and a listing rarely changes between
two polls: a listing identical to the last committed one, with nothing waiting for confirmation
or retention, reuses its view (``Listing.same``) and costs a comparison.

:func:`due` says whether a tag is looked at in this poll: a tag that can still change
completeness every ``interval``, a settled one every ``settled_interval``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from archlag import logs
from archlag.config import Watch, WatchSettings
from archlag.core.names import is_tag
from archlag.core.platform_tags import Grouping, PlatformTags
from archlag.core.publication import TagState
from archlag.polling.checks import Target
from archlag.polling.listing import RETENTION_SECONDS, Known, View, plan, unchanged
from archlag.polling.repository_state import RepositoryState
from archlag.polling.source import TagSource

log = logging.getLogger("archlag.poller")


@dataclass(frozen=True, slots=True)
class Listing:
    """One listing as the watch reads it."""

    names: list[str]  # as the registry sent them, to spot an identical listing
    grouping: Grouping
    invalid: int  # names that are not tags, ignored
    view: View
    found: bool  # False: the repository does not exist (an empty listing)
    same: bool = False  # identical to the last committed listing: nothing in the view changed

    def target(self, tag: str) -> Target:
        """The registry tags to read for ``tag``: itself and/or its per-arch suffix tags."""
        own = (tag,) if tag in self.grouping.listed else ()
        return Target(tag, own + tuple(sorted(self.grouping.parts.get(tag, {}).values())))


class ListingReader:
    def __init__(self, watch: Watch, source: TagSource, context: Mapping[str, str]) -> None:
        self._context = context
        self._last: Listing | None = None  # the listing the last committed poll used
        self.reconfigure(watch, source)

    def reconfigure(self, watch: Watch, source: TagSource) -> None:
        """New settings: the tag filter or template may differ, so the next listing is read
        afresh."""
        self._watch, self._source = watch, source
        template = watch.settings.platform_tags
        self._platform_tags = PlatformTags(template) if template else None
        self._last = None

    def committed(self, listing: Listing | None) -> None:
        """``listing`` is what the watch's state now reflects (None: read the next afresh)."""
        self._last = listing

    async def read(self, names: list[str] | None, state: RepositoryState, now: float) -> Listing:
        """What a listing means for the watch (see :mod:`archlag.polling.listing`)."""
        last = self._last
        found = names is not None
        if (
            last is not None
            and (last.found, last.names) == (found, names or [])
            and not state.missing_once
            and not any(now - since > RETENTION_SECONDS for since in state.absent_since.values())
        ):
            return replace(last, view=unchanged(last.view, state.selected), same=True)
        grouping, invalid = self._group(names or [], state)
        matches = self._watch.settings.tags.matches
        current = [t for t in grouping.bases if matches(t)]
        new = [t for t in current if t not in state.first_listed]
        added = await self._first_listed(new, state, now)
        known = Known(
            state.first_listed, state.absent_since, state.missing_once, state.selected, state.tags
        )
        view = plan(known, current, added, self._watch.settings.tags.limit, now)
        return Listing(names or [], grouping, invalid, view, found)

    async def _first_listed(
        self, new_tags: list[str], state: RepositoryState, now: float
    ) -> dict[str, float]:
        """When new tags count as first listed: now, except at a repository's first poll.

        Tags found at the first poll are ranked by the registry's push times where it has any
        (Docker Hub's API), else they tie and version order ranks them.
        """
        if not new_tags or state.figures.baseline_done:
            return dict.fromkeys(new_tags, now)
        pushed = await self._source.push_times(self._watch.repository)
        # The listing is newest first and bounded: a tag missing from it is older than all.
        oldest = min(pushed.values(), default=now)
        return {t: min(now, pushed.get(t, oldest)) for t in new_tags}

    def _group(self, names: list[str], state: RepositoryState) -> tuple[Grouping, int]:
        """Base tags and per-platform parts of a listing, with the count of invalid names."""
        valid = list(dict.fromkeys(t for t in names if is_tag(t)))
        invalid = len(set(names)) - len(valid)
        if invalid and invalid != state.figures.invalid_tags:
            logs.event(log, logging.WARNING, "invalid_tags_ignored", **self._context, count=invalid)
        if self._platform_tags is not None:
            return self._platform_tags.group(valid), invalid
        return Grouping(tuple(valid), frozenset(valid)), invalid


def due(previous: TagState | None, settings: WatchSettings, now: float) -> bool:
    """Whether a tag is looked at now.

    A tag never read is. A complete publication that is a baseline (complete at archlag's first
    look), or that is older than ``stall_after`` (by its first-seen time, a registry's push time
    where one is known), cannot change its completeness but by a regression: it is *settled* and
    looked at every ``settled_interval``, from the start. Every other tag is looked at at every
    poll.
    """
    if previous is None:
        return True
    publication = previous.publication
    if not publication.complete:
        return True
    young = now - publication.first_seen < settings.stall_after
    if young and not publication.baseline:
        return True
    return now - previous.last_checked >= settings.settled_interval
