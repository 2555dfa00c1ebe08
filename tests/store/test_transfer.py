"""A repository's rows move from one state file to another (resharding) and nothing is lost.

Two real SQLite files: the history is built by the real poller in the first, exported, adopted
by the second, and the second's poller measures the in-flight publication from the first's
first-seen time, counting it once. Exports are untrusted input: every malformed one is refused
with a clear message, and a refused one changes nothing.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from archlag.exporter import handoff
from archlag.store import SCHEMA_VERSION, SQLiteStore, TransferError
from archlag.store.transfer import MAX_ROWS
from tests.support.fake_registry import AMD, ARM, BOTH, Clock, FakeRegistry, make_poller, snapshot

REGISTRY = "127.0.0.1:5000"


async def _in_flight(store: SQLiteStore, registry: FakeRegistry, clock: Clock) -> None:
    """1.0 complete at the first poll (a baseline), then 2.0 seen with amd64 only."""
    registry.publish("1.0", AMD, ARM)
    poller = make_poller(store, registry, clock, platforms=BOTH)
    await poller.poll()
    registry.publish("2.0", AMD)
    clock.now += 60
    await poller.poll()


@pytest.fixture
def old(state_files) -> SQLiteStore:
    return state_files("old")


@pytest.fixture
def new(state_files) -> SQLiteStore:
    return state_files("new")


@pytest.mark.anyio
async def test_adopted_history_measures_in_flight_publication_once(old, new) -> None:
    registry, clock = FakeRegistry(), Clock()
    await _in_flight(old, registry, clock)
    amd64_seen = clock.now
    document = json.loads(json.dumps(old.export(REGISTRY, "demo/app")))  # as it crosses HTTP

    new.adopt(REGISTRY, "demo/app", document)
    assert new.export(REGISTRY, "demo/app") == old.export(REGISTRY, "demo/app")

    clock.now += 600
    registry.publish("2.0", AMD, ARM)
    poller = make_poller(new, registry, clock, platforms=BOTH)
    await poller.poll()
    clock.now += 60
    await poller.poll()
    snap = snapshot(poller)
    assert snap.spread.count == 1, "2.0 counted once, 1.0 stays a baseline"
    assert snap.spread.total == clock.now - 60 - amd64_seen
    view = next(v for v in snap.tags if v.state.tag == "2.0")
    assert view.state.publication.platforms[AMD].first_seen == amd64_seen

    again = make_poller(new, registry, clock, platforms=BOTH)
    clock.now += 60
    await again.poll()
    assert snapshot(again).spread.count == 1, "nothing counted twice after a restart"


@pytest.mark.anyio
async def test_adoption_replaces_only_that_repository(old, new) -> None:
    registry, clock = FakeRegistry(), Clock()
    await _in_flight(old, registry, clock)
    other = FakeRegistry()
    other.publish("9.9", AMD)
    await make_poller(new, other, clock, registry="127.0.0.1:6000").poll()
    kept = new.export("127.0.0.1:6000", "demo/app")

    new.adopt(REGISTRY, "demo/app", old.export(REGISTRY, "demo/app"))
    assert new.export("127.0.0.1:6000", "demo/app") == kept


def _broken(document: dict[str, Any]) -> list[tuple[str, Any]]:
    """Malformed exports and what the refusal says of each."""
    cases: list[tuple[str, Any]] = [("not a JSON object", [document]), ("not a JSON object", None)]

    def changed(message: str, change) -> None:
        copied = copy.deepcopy(document)
        change(copied)
        cases.append((message, copied))

    changed("schema version", lambda d: d.update(schema_version=SCHEMA_VERSION - 1))
    changed("another repository", lambda d: d.update(repository="other/app"))
    changed("columns differ", lambda d: d["columns"]["tags"].append("extra"))
    changed("tables differ", lambda d: d["tables"].pop("observations"))
    changed("not a list of rows", lambda d: d["tables"].update(tags={"a": 1}))
    changed("wrong number of values", lambda d: d["tables"]["tags"][0].pop())
    changed("wrong type", lambda d: d["tables"]["tags"][0].__setitem__(4, "yesterday"))
    changed("wrong type", lambda d: d["tables"]["tags"][0].__setitem__(6, True))
    changed("another repository", lambda d: d["tables"]["tags"][0].__setitem__(1, "x/y"))
    changed("no repository row", lambda d: d["tables"].update(repositories=[]))
    changed(
        "more than",
        lambda d: d["tables"].update(listed_tags=d["tables"]["listed_tags"] * (MAX_ROWS + 1)),
    )
    return cases


@pytest.mark.anyio
async def test_malformed_exports_are_refused_and_change_nothing(old, new) -> None:
    registry, clock = FakeRegistry(), Clock()
    await _in_flight(old, registry, clock)
    await _in_flight(new, FakeRegistry(), Clock())
    before = new.export(REGISTRY, "demo/app")
    document = old.export(REGISTRY, "demo/app")
    assert document is not None

    for message, broken in _broken(document):
        with pytest.raises(TransferError, match=message):
            new.adopt(REGISTRY, "demo/app", broken)
        assert new.export(REGISTRY, "demo/app") == before, message


def test_export_of_an_unknown_repository_is_none(new) -> None:
    assert new.export(REGISTRY, "never/seen") is None


def test_handoff_is_needed_on_a_new_file_and_when_the_shard_count_changes(new) -> None:
    assert handoff.needed(new, 2), "a new state file may hold nothing of what it now owns"
    assert handoff.needed(new, 2), "until every watch has asked, a restart asks again"
    handoff.done(new, 2)
    assert not handoff.needed(new, 2), "the same shards as last time: nothing moved"
    assert handoff.needed(new, 3)
    assert new.meta(handoff.TOTAL_SHARDS_KEY) == "2"
