"""A bounded crash loop: ``kill -9`` at random moments while platforms are being published.

A real ``archlag`` polls the real Debian registry every 200 ms while a publisher thread
releases a sequence of tags, each first with linux/amd64 and a moment later with linux/arm64
too (a staggered publication). At random moments the test kills archlag with SIGKILL and starts
it again on the same state file. After every kill the state file is read (archlag is dead, so
it is consistent) and compared with every earlier reading; at the end archlag is given time to
see the last publications and its ``/metrics`` is compared with the state file. What must hold:

- no first-seen time is lost or changed: once the state file holds a platform's first-seen
  time, every later reading holds the same one;
- no observation is repeated or missing: each completed publication has exactly one spread
  observation, and ``archlag_tag_publication_spread_seconds_count`` equals the number of
  completed publications.

The test runs a few dozen kills; ``benchmarks/crash_loop.py`` runs the same loop with hundreds
and prints the counts.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.archlag_process import ArchlagProcess, Scrape
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.integration

REPOSITORY = "crash/app"
PLATFORMS = ("linux/amd64", "linux/arm64")
KILLS = 25


@dataclass
class CrashLoopResult:
    """What the loop did and what it found; every count after ``publications`` must be 0."""

    kills: int = 0
    publications: int = 0  # completed (both platforms pushed) after archlag's first poll
    observed: int = 0  # spread observations in the state file at the end
    first_seen_recorded: int = 0  # (tag, platform) first-seen times the state file held
    first_seen_lost: int = 0  # held once, missing from a later reading
    first_seen_changed: int = 0  # held once, different in a later reading
    repeated: int = 0  # publications observed more than once
    missing: int = 0  # completed publications never observed
    metrics_spread_count: float | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # what went wrong, for the message

    @property
    def faultless(self) -> bool:
        counts = (self.first_seen_lost, self.first_seen_changed, self.repeated, self.missing)
        return not any(counts) and self.metrics_spread_count == self.publications


class Publisher(threading.Thread):
    """Releases tags 1.1, 1.2, ... each as amd64 first, then amd64+arm64 after a pause."""

    def __init__(self, pusher: Pusher, rng: random.Random) -> None:
        super().__init__(name="publisher", daemon=True)
        self._pusher = pusher
        self._rng = rng
        self.stop = threading.Event()
        self.completed: list[str] = []

    def run(self) -> None:
        number = 0
        while not self.stop.is_set():
            number += 1
            tag = f"1.{number}"
            amd, arm = (self._pusher.push_image(REPOSITORY, p, seed=tag) for p in PLATFORMS)
            self._pusher.push_index(REPOSITORY, tag, [amd])
            time.sleep(self._rng.uniform(0.2, 0.8))
            self._pusher.push_index(REPOSITORY, tag, [amd, arm])
            self.completed.append(tag)
            time.sleep(self._rng.uniform(0.1, 0.5))


def read_state(path: Path) -> tuple[dict[tuple[str, str], float], Counter[str]]:
    """First-seen time per (tag, platform), and spread observations per tag, read-only."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        seen = {
            (tag, platform): first
            for tag, platform, first in db.execute(
                "SELECT tag, platform, first_seen FROM platforms WHERE repository = ?",
                (REPOSITORY,),
            )
        }
        spreads = Counter(
            tag
            for (tag,) in db.execute(
                "SELECT tag FROM observations WHERE repository = ? AND kind = 'spread'",
                (REPOSITORY,),
            )
        )
    return seen, spreads


def compare(
    known: dict[tuple[str, str], float],
    now: dict[tuple[str, str], float],
    result: CrashLoopResult,
) -> None:
    """Count first-seen times lost or changed since ``known``; then learn the new ones."""
    for key, first in known.items():
        if key not in now:
            result.first_seen_lost += 1
            result.problems.append(f"{key} lost (was {first})")
        elif now[key] != first:
            result.first_seen_changed += 1
            result.problems.append(f"{key} changed from {first} to {now[key]}")
    for key, first in now.items():
        known.setdefault(key, first)


def spread_count(scrape: Scrape, registry: str) -> float | None:
    return scrape.value(
        "archlag_tag_publication_spread_seconds_count", registry=registry, repository=REPOSITORY
    )


def crash_loop(
    registry: RegistryServer, workdir: Path, *, kills: int, seed: int = 0
) -> CrashLoopResult:
    """Run the loop described in the module docstring; never raises for what it finds."""
    rng = random.Random(seed)  # noqa: S311 - chooses test timings, not secrets
    state = workdir / "state.db"
    config = {
        "state_file": str(state),
        "defaults": {"interval": "200ms", "stall_after": "1h", "tags": {"limit": 10_000}},
        "registries": {registry.host: {"insecure": True}},
        "watches": [{"image": f"{registry.host}/{REPOSITORY}", "platforms": list(PLATFORMS)}],
    }
    result = CrashLoopResult()
    started = time.monotonic()
    with Pusher(registry.url) as pusher:
        pusher.push_index(REPOSITORY, "1.0", [pusher.push_image(REPOSITORY, p) for p in PLATFORMS])
        archlag = ArchlagProcess(workdir, config)
        publisher = Publisher(pusher, rng)
        known: dict[tuple[str, str], float] = {}
        try:
            archlag.start()
            # the first poll (the baseline) is committed before anything is measured
            archlag.wait_for(lambda s: s.series("archlag_tag_complete", tag="1.0") != {})
            publisher.start()
            for _ in range(kills):
                time.sleep(rng.uniform(0.2, 1.2))
                archlag.signal(signal.SIGKILL)
                result.kills += 1
                compare(known, read_state(state)[0], result)
                archlag.start()
            publisher.stop.set()
            publisher.join(timeout=30)
            result.publications = len(publisher.completed)
            scrape = archlag.wait_for(
                lambda s: spread_count(s, registry.host) == result.publications,
                timeout=30,
                what="every completed publication observed",
            )
            result.metrics_spread_count = spread_count(scrape, registry.host)
        except AssertionError as failure:
            result.problems.append(str(failure).splitlines()[0])
            result.metrics_spread_count = spread_count(archlag.scrape(), registry.host)
        finally:
            archlag.stop()
    seen, spreads = read_state(state)
    compare(known, seen, result)
    result.first_seen_recorded = len(known)
    result.observed = sum(spreads.values())
    result.repeated = sum(1 for count in spreads.values() if count > 1)
    result.missing = sum(1 for tag in publisher.completed if tag not in spreads)
    result.seconds = time.monotonic() - started
    return result


def test_kill_9_at_random_loses_changes_repeats_and_misses_nothing(
    registry: RegistryServer, tmp_path: Path
) -> None:
    result = crash_loop(registry, tmp_path, kills=KILLS, seed=KILLS)
    assert result.kills == KILLS
    assert result.publications > 0
    assert result.first_seen_recorded >= 2 * result.publications, "every platform recorded"
    assert result.faultless, result
    assert result.observed == result.publications
