"""What one tag listing means for a watch: which tags are there, gone, back, and in view.

Pure logic over the repository's state and the names a registry listed. Registries answer with
odd listings every day (an empty or truncated page from a CDN or an eventually consistent
backend), so a listing never erases history on its own:

* a tag that a listing lacks stays in view, *missing once*; only when the next listing lacks it
  too is it *absent* (it leaves the view, its record stays);
* a listing that drops every tag, or more than :data:`SUSPECT_SHARE` of them at once, is
  *suspect*: logged and counted by the poller, and like any other confirmed by the next look;
* an absent tag that is listed again is *returned*: its record and first-listed time resume;
* records of tags absent for longer than :data:`RETENTION_SECONDS` are forgotten;
* absent names that never had a record (listed, never in view, never read) are kept only up to
  :data:`MAX_ABSENT_UNRECORDED` per watch, the longest absent forgotten first: a registry that
  lists fresh names at every poll cannot grow the state without bound. Such a name, if it is
  ever listed again, counts as first listed then.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

from archlag.core.publication import select_tags

SUSPECT_SHARE = 0.5
RETENTION_SECONDS = 90 * 86400.0  # how long records of tags that left the registry are kept
MAX_ABSENT_UNRECORDED = 1000  # absent names without a record kept per watch


@dataclass(frozen=True, slots=True)
class Known:
    """What the watch knew before this listing."""

    first_listed: Mapping[str, float]  # every known tag, present or absent
    absent_since: Mapping[str, float]
    missing_once: Mapping[str, float]
    selected: tuple[str, ...]
    recorded: Collection[str] = ()  # tags with a record (a check read them once)


@dataclass(frozen=True, slots=True)
class View:
    """The watch after this listing."""

    first_listed: dict[str, float]
    absent_since: dict[str, float]
    missing_once: dict[str, float]
    added: dict[str, float]  # tags first listed now
    returned: frozenset[str]  # absent tags listed again
    gone: frozenset[str]  # confirmed absent by this listing
    forgotten: frozenset[str]  # absent past the retention, or over the cap: records dropped
    selected: tuple[str, ...]
    suspect: bool  # dropped every tag, or most of them, at once
    dropped: int  # believed-present tags this listing lacks
    capped: int = 0  # absent names without a record forgotten by MAX_ABSENT_UNRECORDED


def plan(
    known: Known, current: Collection[str], added: Mapping[str, float], limit: int, now: float
) -> View:
    """The view after a listing that holds ``current`` (valid, matching tags).

    ``added`` gives first-listed times for the tags of ``current`` that ``known`` lacks.
    """
    present_before = [t for t in known.first_listed if t not in known.absent_since]
    listed = set(current)
    missing = [t for t in present_before if t not in listed]
    gone = {t: known.missing_once[t] for t in missing if t in known.missing_once}
    missing_once = {t: now for t in missing if t not in gone}
    returned = frozenset(t for t in current if t in known.absent_since)
    absent = {t: s for t, s in known.absent_since.items() if t not in returned} | gone
    expired = {t for t, since in absent.items() if now - since > RETENTION_SECONDS}
    capped = _over_cap(absent, expired, known)
    forgotten = frozenset(expired | capped)
    first_listed = {t: at for t, at in known.first_listed.items() if t not in forgotten}
    first_listed.update(added)
    for tag in forgotten:
        del absent[tag]
    if not missing and not returned and known.selected:
        # Nothing left: a tag that ranked below the last selection still does, and new tags are
        # the newest, so only they and the last selection can make the cut.
        candidates: Collection[str] = [*added, *known.selected]
    else:
        candidates = [*current, *missing_once]
    return View(
        first_listed=first_listed,
        absent_since=absent,
        missing_once=missing_once,
        added=dict(added),
        returned=returned,
        gone=frozenset(gone),
        forgotten=forgotten,
        selected=tuple(select_tags(candidates, first_listed, limit)),
        suspect=_suspect(len(missing), len(present_before)),
        dropped=len(missing),
        capped=len(capped),
    )


def unchanged(view: View, selected: tuple[str, ...]) -> View:
    """``view`` again, for a listing identical to the one it came from: nothing added, returned,
    gone or forgotten."""
    return replace(
        view,
        added={},
        returned=frozenset(),
        gone=frozenset(),
        forgotten=frozenset(),
        selected=selected,
        suspect=False,
        dropped=0,
        capped=0,
    )


def _over_cap(absent: Mapping[str, float], expired: set[str], known: Known) -> set[str]:
    """Absent names without a record beyond :data:`MAX_ABSENT_UNRECORDED`, longest absent
    (then first listed longest ago) first."""
    recorded = known.recorded
    unrecorded = [t for t in absent if t not in expired and t not in recorded]
    excess = len(unrecorded) - MAX_ABSENT_UNRECORDED
    if excess <= 0:
        return set()
    first = known.first_listed
    return set(heapq.nsmallest(excess, unrecorded, key=lambda t: (absent[t], first.get(t, 0.0), t)))


def _suspect(dropped: int, before: int) -> bool:
    return before > 0 and (dropped == before or (dropped > 1 and dropped > SUSPECT_SHARE * before))
