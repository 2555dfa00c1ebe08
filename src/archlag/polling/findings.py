"""What one poll found, applied to a watch's records: pure logic, no I/O.

The poller lists and checks; this module turns the checks' contents into new tag records,
regressions and completions, with the rules of :mod:`archlag.core.publication`:

- a tag new to the listing (or back in it) was absent at the previous listing: that bounds when
  its platforms appeared (``last_absent``);
- a publication that archlag did not see begin and finds complete is a baseline, except for a
  tag a push event named: what an event announces is measured;
- an event's push time is offered to the model as ``Content.announced``;
- only tags in view are judged (settled); records out of view stay as they are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from archlag.core.platforms import Platform
from archlag.core.publication import (
    Completion,
    Content,
    TagState,
    apply_content,
    estimate,
    fix_expectations,
    settle,
)
from archlag.polling.checks import Checks
from archlag.polling.hints import Batch
from archlag.polling.listing import View
from archlag.polling.repository_state import RepositoryState

POLL, EVENT = "poll", "event"  # what made archlag look when it found a change


class Records(Mapping[str, TagState]):
    """A watch's records as this poll leaves them: what the poll replaced over what it had.

    Reading costs what the poll changed, not the number of records: the poll copies nothing.
    """

    def __init__(self, before: Mapping[str, TagState]) -> None:
        self.before = before
        self.replaced: dict[str, TagState] = {}
        self.dropped: set[str] = set()

    def __getitem__(self, tag: str) -> TagState:
        if tag in self.dropped:
            raise KeyError(tag)
        found = self.replaced.get(tag)
        return found if found is not None else self.before[tag]

    def __contains__(self, tag: object) -> bool:
        return tag not in self.dropped and (tag in self.replaced or tag in self.before)

    def __iter__(self) -> Iterator[str]:
        yield from (t for t in self.replaced if t not in self.dropped)
        yield from (t for t in self.before if t not in self.replaced and t not in self.dropped)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(slots=True)
class Applied:
    tags: Records  # every record after the poll
    changed: dict[str, TagState] = field(default_factory=dict)  # records to write now
    checked: dict[str, float] = field(default_factory=dict)  # unchanged tags looked at: when
    regressions: list[tuple[str, Platform]] = field(default_factory=list)
    completions: list[Completion] = field(default_factory=list)
    changes: Counter[str] = field(default_factory=Counter)  # tags with new content, by POLL/EVENT

    def replace(self, tag: str, state: TagState, *, write: bool = True) -> None:
        self.tags.replaced[tag] = state
        if write:
            self.changed[tag] = state
            self.checked.pop(tag, None)


def apply_findings(
    state: RepositoryState,
    view: View,
    checks: Checks,
    batch: Batch,
    now: float,
    *,
    configured: frozenset[Platform],
    backfill: bool,
) -> Applied:
    applied = Applied(Records(state.tags))
    for tag in state.unsaved:
        if tag in state.tags:
            applied.replace(tag, state.tags[tag])
    candidates = _apply_contents(state, view, checks, batch, now=now, applied=applied)
    new = [t for t in applied.changed if applied.tags[t].publication.expectation is None]
    for tag, fixed in fix_expectations(applied.tags, new, configured).items():
        applied.replace(tag, fixed)
    for tag in view.forgotten:
        applied.tags.dropped.add(tag)
        applied.changed.pop(tag, None)
        applied.checked.pop(tag, None)
    # Only a record this poll changed, or a tag new to the view, can be newly complete.
    before = set(state.selected)
    judged = [t for t in view.selected if t in applied.tags.replaced or t not in before]
    applied.completions = _settle(applied, judged, candidates)
    if backfill:
        applied.completions += _estimates(applied.tags, candidates, checks.contents, now)
    return applied


def _apply_contents(
    state: RepositoryState,
    view: View,
    checks: Checks,
    batch: Batch,
    *,
    now: float,
    applied: Applied,
) -> set[str]:
    """New records from the checks' contents; returns the baseline candidates."""
    tags, candidates = applied.tags, set()
    for tag, found in checks.contents.items():
        previous = tags.get(tag)
        if found is None:
            if previous is not None:  # looked at, unchanged: only when it was last checked
                applied.replace(tag, replace(previous, last_checked=now), write=False)
                applied.checked[tag] = now
            continue
        hint = batch.tags.get(tag)
        announced = hint.pushed_at if hint is not None else None
        content = replace(found, announced=announced) if announced is not None else found
        was_absent = tag in view.added or tag in view.returned
        absent_at = (
            state.figures.last_listing if was_absent and state.figures.baseline_done else None
        )
        outcome = apply_content(previous, tag, content, now, absent_at=absent_at)
        applied.replace(tag, outcome.state)
        applied.regressions += [(tag, platform) for platform in outcome.regressions]
        if state.figures.baseline_done:  # what the first poll finds is discovery, not a change
            applied.changes[EVENT if batch.names(tag) else POLL] += 1
        seen_begin = state.figures.baseline_done and (was_absent or tag in state.selected)
        if outcome.new_publication and not seen_begin and tag not in batch.tags:
            candidates.add(tag)
    return candidates


def _settle(applied: Applied, judged: list[str], candidates: set[str]) -> list[Completion]:
    """Completions of tags in view (out of view nothing changes, nothing is judged)."""
    completions = []
    for tag in judged:
        current = applied.tags.get(tag)
        if current is None:
            continue
        settled, completion = settle(current, baseline_candidate=tag in candidates)
        if settled is not current:
            applied.replace(tag, settled)
        if completion is not None:
            completions.append(completion)
    return completions


def _estimates(
    tags: Mapping[str, TagState],
    candidates: set[str],
    contents: Mapping[str, Content | None],
    now: float,
) -> list[Completion]:
    """Backfill: estimates for publications that became a baseline in this poll."""
    estimates = []
    for tag in candidates:
        content = contents.get(tag)
        if content is None or not tags[tag].publication.baseline:
            continue
        estimated = estimate(tags[tag], content.built, now)
        if estimated is not None:
            estimates.append(estimated)
    return estimates
