"""A state file written by archlag 0.1.0 (schema 2) upgrades in place and loses nothing.

tests/fixtures/state-v2.sqlite was written by the real archlag 0.1.0 process watching a real
registry (see tests/fixtures/README.md).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from archlag.core.platforms import parse_platform
from archlag.core.publication import LEARNED, LEGACY
from archlag.polling.repository_state import restore
from archlag.store import SCHEMA_VERSION, SQLiteStore
from tests.support.fake_registry import Clock, FakeRegistry, make_poller
from tests.support.paths import FIXTURES

FIXTURE = FIXTURES / "state-v2.sqlite"
REGISTRY = "127.0.0.1:33231"  # as the fixture's watches named it
AMD, ARM = parse_platform("linux/amd64"), parse_platform("linux/arm64")


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    path = tmp_path / "state.db"
    shutil.copyfile(FIXTURE, path)
    return path


def _rows(path: Path, table: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()  # noqa: S608
    finally:
        db.close()


def test_schema_2_file_upgrades_keeping_every_time_and_observation(old_file: Path) -> None:
    before = {t: _rows(old_file, t) for t in ("observations", "regressions")}
    first_seen_before = {
        (tag, platform): seen
        for _, repository, tag, platform, _, seen, *_ in _rows(old_file, "platforms")
        if repository == "demo/app"
    }

    store = SQLiteStore(str(old_file))
    record = store.load(REGISTRY, "demo/app")
    store.close()

    assert sqlite3.connect(old_file).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert {t: _rows(old_file, t) for t in before} == before, "observations and counts kept"
    first_seen_after = {
        (tag, str(p)): s.first_seen
        for tag, state in record.tags.items()
        for p, s in state.publication.platforms.items()
    }
    assert first_seen_after == first_seen_before
    assert set(record.tags) == {"0.8", "1.0", "1.1", "2.0"}
    assert record.absent_since == {}
    assert all(s.publication.expectation is None for s in record.tags.values())
    assert all(
        p.last_absent is None
        for s in record.tags.values()
        for p in s.publication.platforms.values()
    ), "0.1 recorded no bounds: none are invented"


def test_upgraded_publications_are_judged_as_0_1_judged_them(old_file: Path) -> None:
    store = SQLiteStore(str(old_file))
    state = restore(
        store.load(REGISTRY, "demo/app"),
        REGISTRY,
        "demo/app",
        buckets=(0.0, 30.0, 60.0),
        platforms=frozenset(),
        matches=lambda tag: True,
        limit=20,
    )
    store.close()
    publications = {t: s.publication for t, s in state.tags.items()}
    assert publications["1.0"].baseline
    assert publications["1.0"].expectation is not None
    assert publications["1.0"].expectation.basis == LEGACY
    assert publications["1.1"].complete, "observed complete by 0.1: still complete"
    assert not publications["0.8"].complete, "its arm64 regressed: still incomplete"
    assert publications["2.0"].expectation is not None
    assert publications["2.0"].expectation.basis == LEARNED
    assert publications["2.0"].expected == {AMD, ARM}
    assert state.spread.snapshot().count == 2, "the two completions 0.1 observed"
    assert state.unsaved == {"0.8", "1.0", "1.1", "2.0"}


@pytest.mark.anyio
async def test_the_first_poll_after_the_upgrade_writes_the_expectations(old_file: Path) -> None:
    store = SQLiteStore(str(old_file))
    registry, clock = FakeRegistry(), Clock()
    clock.now = 1796163100.0  # just after the fixture was written
    poller = make_poller(store, registry, clock, registry=REGISTRY)
    spread_before = poller.state.spread.snapshot().count
    for tag, state in poller.state.tags.items():  # the registry still serves the same content
        registry.tags[tag] = {
            p: s.digest for p, s in state.publication.platforms.items() if s.present
        }
        registry.digests[tag] = state.digest
    await poller.poll()
    assert poller.state.spread.snapshot().count == spread_before, "nothing observed twice"
    reloaded = store.load(REGISTRY, "demo/app")
    store.close()
    assert all(s.publication.expectation is not None for s in reloaded.tags.values())
    assert reloaded.tags["1.1"].publication.platforms[ARM].first_seen == pytest.approx(
        1796163062.9673414
    )
