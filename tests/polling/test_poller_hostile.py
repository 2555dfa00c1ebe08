"""What a hostile or broken registry cannot do to a watch: the poller with a fake registry.

Each test is the unit-sized twin of an attack in ``tests/reliability/test_hostile_registries.py``
that found a bug: a tag no check can read, a schema 1 manifest refused at its ``HEAD``, and a
registry that lists fresh names at every poll.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from archlag.config import TagFilter
from archlag.core.snapshots import Snapshot
from archlag.metrics import render_snapshot
from archlag.polling.listing import MAX_ABSENT_UNRECORDED
from archlag.registry import UnsupportedManifestError
from archlag.web import status_page as landing
from archlag.web.api.documents import tags_document, watch_document
from tests.support.fake_registry import (
    AMD,
    ARM,
    BOTH,
    Clock,
    FakeRegistry,
    first_poll,
    make_poller,
    snapshot,
)

pytestmark = pytest.mark.anyio


@dataclass
class Schema1AtHead(FakeRegistry):
    """A registry whose ``HEAD`` of some tags shows a schema 1 media type (with the digest)."""

    schema1: set[str] = field(default_factory=set)

    async def head_digest(self, repository: str, tag: str) -> str | None:
        digest = await super().head_digest(repository, tag)
        if tag in self.schema1:
            raise UnsupportedManifestError(
                "schema 1", reason="schema1", registry="127.0.0.1:5000", digest=digest
            )
        return digest


async def test_a_tag_no_check_can_read_is_counted_shown_and_listed(store) -> None:
    registry, clock, poller = await first_poll(store, platforms=BOTH)
    registry.publish("1.1", AMD, ARM)
    registry.broken.add("1.1")
    for _ in range(2):
        clock.now += 60
        await poller.poll()
    snap = snapshot(poller)
    assert [v.state.tag for v in snap.tags] == ["1.0"], "no record: nothing is known of it"
    assert snap.unread == {"1.1": "manifest is not JSON"}
    assert snap.failing == 1
    assert snap.figures.status.reason == "ok", "one tag fails, not the poll"
    exposition = render_snapshot(Snapshot((snap,)))
    line = 'archlag_watch_failing_tags{registry="127.0.0.1:5000",repository="demo/app"} 1'
    assert line in exposition
    page = landing.render(Snapshot((snap,)), "test", now=clock.now)
    assert "data-tag='1.1'" in page
    assert "latest check failed: manifest is not JSON" in page
    assert watch_document(snap)["failing_tags"] == 1
    unread = tags_document(snap, frozenset())["unread_tags"]
    assert unread == [{"tag": "1.1", "last_check_error": "manifest is not JSON"}]
    assert tags_document(snap, frozenset(), "1.0")["unread_tags"] == [], "only the tag asked"

    registry.broken.clear()
    clock.now += 60
    await poller.poll()
    snap = snapshot(poller)
    assert [v.state.tag for v in snap.tags] == ["1.1", "1.0"]
    assert (snap.unread, snap.failing) == ({}, 0), "read at last: an ordinary tag"


async def test_a_tag_that_could_not_be_read_is_checked_again_after_a_restart(store) -> None:
    registry, clock, poller = await first_poll(store, platforms=BOTH)
    registry.publish("1.1", AMD, ARM)
    registry.broken.add("1.1")  # a transient failure at its first check
    clock.now += 60
    await poller.poll()
    registry.broken.clear()
    restarted = make_poller(store, registry, clock, platforms=BOTH)
    assert restarted.state.selected == ("1.1", "1.0"), "in view again: due for a check"
    clock.now += 60
    await restarted.poll()
    assert [v.state.tag for v in snapshot(restarted).tags] == ["1.1", "1.0"]
    assert snapshot(restarted).spread.count == 1, "a new tag, measured once"


async def test_a_schema1_tag_refused_at_head_is_counted_once_per_digest(store) -> None:
    registry, clock = Schema1AtHead(), Clock()
    registry.publish("1.0", AMD)
    registry.publish("old", AMD)
    registry.schema1.add("old")
    poller = make_poller(store, registry, clock)
    for _ in range(3):
        await poller.poll()
        clock.now += 60
    snap = snapshot(poller)
    assert snap.figures.unsupported == {"schema1": 1}, "remembered by the digest HEAD gave"
    assert registry.gets == 1, "only 1.0 was fetched: nothing is fetched for a refusal"
    assert (snap.failing, snap.figures.status.reason) == (0, "ok"), "refused, not failing"
    registry.publish("old", AMD, build="2")  # pushed again, still schema 1
    await poller.poll()
    assert snapshot(poller).figures.unsupported == {"schema1": 2}, "a new digest is a new refusal"


def _listed_rows(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return int(db.execute("SELECT count(*) FROM listed_tags").fetchone()[0])


async def test_names_listed_once_are_kept_up_to_a_cap_and_records_are_never_dropped(
    store, tmp_path: Path
) -> None:
    registry, clock = FakeRegistry(), Clock()
    registry.publish("1.0", AMD)
    poller = make_poller(store, registry, clock, tags=TagFilter(limit=1))
    await poller.poll()
    registry.tags.pop("1.0")
    registry.listings = [[] for _ in range(2)]  # 1.0, with a record, is confirmed gone
    for _ in range(2):
        clock.now += 60
        await poller.poll()
    assert "1.0" in poller.state.absent_since
    fresh = 700  # per listing; 1.0 stays out of the counts below: it has a record
    for number in range(6):
        clock.now += 60
        registry.listings = [[f"r{number}-{i}" for i in range(fresh)]]
        await poller.poll()
    state = poller.state
    unrecorded = [t for t in state.absent_since if t not in state.tags]
    assert len(unrecorded) == MAX_ABSENT_UNRECORDED, "the longest absent forgotten first"
    assert not any(t.startswith(("r0-", "r1-")) for t in unrecorded)
    assert "1.0" in state.absent_since, "a tag with a record is never capped"
    assert "1.0" in state.tags
    listed = fresh + fresh  # the latest listing, and the one before (missing once)
    assert len(state.first_listed) == listed + MAX_ABSENT_UNRECORDED + 1
    assert snapshot(poller).figures.forgotten_names == 6 * fresh - listed - MAX_ABSENT_UNRECORDED
    assert _listed_rows(tmp_path / "state.db") == len(state.first_listed), "saved as held"
