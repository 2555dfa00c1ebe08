"""SQLite state: round trips, atomic polls, clear errors for corrupt and newer files."""

from __future__ import annotations

import sqlite3
from dataclasses import fields
from pathlib import Path

import pytest

from archlag.core.figures import WatchFigures
from archlag.core.platforms import parse_platform
from archlag.core.publication import Content, apply_content, begin_expectations, settle
from archlag.polling.repository_state import restore
from archlag.store import MIGRATIONS, SCHEMA_VERSION, PollRecord, SQLiteStore, StoreError

AMD, ARM = parse_platform("linux/amd64"), parse_platform("linux/arm64")
REPO = ("127.0.0.1:5000", "demo/app")


def _completed_state():
    first = apply_content(None, "1.0", Content("sha256:i1", {AMD: "sha256:a"}), 100.0).state
    second = apply_content(
        first, "1.0", Content("sha256:i2", {AMD: "sha256:a", ARM: "sha256:b"}), 160.0
    ).state
    return settle(begin_expectations({"1.0": second}, frozenset({AMD, ARM}))["1.0"])


_FIGURES = {f.name for f in fields(WatchFigures)}


def _record(**changes) -> PollRecord:
    """A poll of REPO; the watch's figures (baseline done, polled at 160) are among ``changes``."""
    figures = {"baseline_done": True, "last_poll_success": 160.0}
    figures.update({k: v for k, v in changes.items() if k in _FIGURES})
    others = {k: v for k, v in changes.items() if k not in _FIGURES}
    return PollRecord(REPO[0], REPO[1], WatchFigures(**figures), **others)


def test_round_trip_restores_state_and_histograms(tmp_path: Path) -> None:
    state, completion = _completed_state()
    assert completion is not None
    store = SQLiteStore(str(tmp_path / "a.db"))
    store.save(
        _record(
            listed_added={"1.0": 100.0},
            tags_changed=(state,),
            completions=(completion,),
            regressions={ARM: 1},
        )
    )
    store.close()

    reopened = SQLiteStore(str(tmp_path / "a.db"))
    record = reopened.load(*REPO)
    assert record.figures.baseline_done
    assert record.figures.last_poll_success == 160.0
    assert record.tags["1.0"] == state, "first-seen times, digests and flags survive"
    assert record.figures.regressions == {ARM: 1}
    rebuilt = restore(
        record,
        *REPO,
        buckets=(0.0, 60.0, 120.0),
        platforms=frozenset(),
        matches=lambda tag: True,
        limit=10,
    )
    spread = rebuilt.spread.snapshot()
    assert spread.cumulative == (0, 1, 1, 1)
    assert spread.total == 60.0
    assert rebuilt.delays[ARM].snapshot().total == 60.0
    assert rebuilt.selected == ("1.0",)


def test_observations_are_never_written_twice(tmp_path: Path) -> None:
    state, completion = _completed_state()
    assert completion is not None
    store = SQLiteStore(str(tmp_path / "a.db"))
    saved = [store.save(_record(tags_changed=(state,), completions=(completion,))) for _ in "ab"]
    assert len(store.load(*REPO).observations) == 3  # spread + two delays, once
    assert saved == [(completion,), ()], "the second save says nothing new was observed"


def test_a_failed_poll_write_leaves_nothing_behind(tmp_path: Path) -> None:
    state, completion = _completed_state()
    store = SQLiteStore(str(tmp_path / "a.db"))
    store.save(_record(tags_changed=(state,)))
    store._db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON regressions BEGIN "
        "SELECT RAISE(ABORT, 'disk full'); END"
    )
    changed = apply_content(state, "1.0", Content("sha256:i3", {AMD: "sha256:a"}), 200.0).state
    with pytest.raises(StoreError, match="write failed"):
        store.save(
            _record(
                tags_changed=(changed,),
                completions=(completion,),
                regressions={ARM: 1},
                last_poll_success=200.0,
            )
        )
    record = store.load(*REPO)
    assert record.tags["1.0"] == state, "the whole poll rolled back"
    assert record.figures.last_poll_success == 160.0
    assert record.observations == ()


def test_absent_tags_keep_their_records_until_forgotten(tmp_path: Path) -> None:
    state, _ = _completed_state()
    store = SQLiteStore(str(tmp_path / "a.db"))
    store.save(_record(listed_added={"1.0": 1.0}, tags_changed=(state,), last_listing=5.0))
    store.save(_record(listed_absent={"1.0": 7.0}, last_listing=7.0))
    record = store.load(*REPO)
    assert record.tags["1.0"] == state, "a tag that left the listing keeps its history"
    assert (record.first_listed, record.absent_since) == ({"1.0": 1.0}, {"1.0": 7.0})
    assert record.figures.last_listing == 7.0, "each poll writes the time of its listing"
    store.save(_record(last_listing=6.0))
    assert store.load(*REPO).figures.last_listing == 7.0, "an older time never wins"
    store.save(_record(listed_absent={"1.0": None}))
    assert store.load(*REPO).absent_since == {}
    store.save(_record(forgotten=frozenset({"1.0"})))
    record = store.load(*REPO)
    assert (record.tags, record.first_listed) == ({}, {})


def test_memory_store_works_and_keeps_nothing() -> None:
    store = SQLiteStore(":memory:")
    state, _ = _completed_state()
    store.save(_record(tags_changed=(state,)))
    assert "1.0" in store.load(*REPO).tags
    assert SQLiteStore(":memory:").load(*REPO).tags == {}


def test_newer_schema_is_refused_not_reset(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer than this archlag"):
        SQLiteStore(str(path))
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "garbage", [b"this is not a database" * 100, b"SQLite format 3\x00" + b"\xff" * 4000]
)
def test_corrupt_file_gives_a_clear_error(tmp_path: Path, garbage: bytes) -> None:
    path = tmp_path / "a.db"
    path.write_bytes(garbage)
    with pytest.raises(StoreError, match=r"a\.db"):
        SQLiteStore(str(path))
    assert path.read_bytes() == garbage, "never silently reset"


def test_version_1_file_is_migrated_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[1])
    db.execute("INSERT INTO tags VALUES ('r', 'p', '1.0', 'sha256:i', 5.0, 1, 3.0, 1, 0)")
    db.execute("INSERT INTO platforms VALUES ('r', 'p', '1.0', 'linux/amd64', 'sha256:a', 3.0, 1)")
    db.execute("INSERT INTO observations VALUES ('r', 'p', '1.0', 3.0, 1, 'spread', '', 9.0)")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    record = SQLiteStore(str(path)).load("r", "p")
    platform = record.tags["1.0"].publication.platforms[AMD]
    assert (platform.first_seen, platform.source) == (3.0, "observed")
    assert [(o.kind, o.seconds, o.estimated) for o in record.observations] == [
        ("spread", 9.0, False)
    ]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
