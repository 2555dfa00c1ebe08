"""Resharding loses no in-flight publication: 2 shards become 3 while tags are half published.

Real registry, real archlag shards with --shard.peers. Every repository has a tag with amd64 only
when the shards are restarted as three; the repositories that moved are adopted by their new
shard from the old one's state file (GET /api/v1/state), and when arm64 arrives each spread is
observed once, measured from the amd64 first-seen time the old shard recorded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from archlag.core.sharding import shard_of
from tests.support.archlag_process import ArchlagProcess, Scrape, free_port

pytestmark = pytest.mark.integration

REPOSITORIES = [f"team{i}/app" for i in range(8)]
BOTH = ["linux/amd64", "linux/arm64"]


def amd64_first_seen(scrape: Scrape, host: str) -> dict[str, float]:
    found = scrape.series(
        "archlag_tag_platform_first_seen_timestamp_seconds", registry=host, tag="2.0",
        platform="linux/amd64",
    )  # fmt: skip
    return {dict(k)["repository"]: v for k, v in found.items()}


@contextmanager
def running(processes: list[ArchlagProcess]) -> Iterator[None]:
    """Start the shards together, as a rollout restarts them, and stop them all after."""
    try:
        with ThreadPoolExecutor(len(processes)) as pool:
            list(pool.map(ArchlagProcess.start, processes))
        yield
    finally:
        for process in processes:
            process.stop()


def owned(host: str, index: int, total: int) -> list[str]:
    return [r for r in REPOSITORIES if shard_of(host, r, total) == index]


def wait_first_seen(process: ArchlagProcess, host: str, count: int) -> dict[str, float]:
    """The shard's amd64 first-seen times, once it shows ``count`` of them."""

    def shown(scrape: Scrape) -> bool:
        return len(amd64_first_seen(scrape, host)) == count

    return amd64_first_seen(process.wait_for(shown, what="amd64 first-seen times"), host)


def wait_completed(process: ArchlagProcess, host: str, repositories: list[str]) -> Scrape:
    """The first scrape in which every one of ``repositories`` has counted one spread."""

    def counted(scrape: Scrape) -> bool:
        return all(
            scrape.value(
                "archlag_tag_publication_spread_seconds_count", registry=host, repository=r
            ) == 1
            for r in repositories
        )  # fmt: skip

    return process.wait_for(counted, what="every spread counted once")


def test_two_shards_become_three_and_keep_every_in_flight_publication(
    registry, pusher, tmp_path
) -> None:
    images = {}
    for repository in REPOSITORIES:
        images[repository] = [pusher.push_image(repository, p, seed="2.0") for p in BOTH]
        pusher.push_index(repository, "1.0", [pusher.push_image(repository, p) for p in BOTH])
    ports = [free_port() for _ in range(3)]

    def shards(total: int) -> list[ArchlagProcess]:
        peers = ",".join(f"http://127.0.0.1:{port}" for port in ports[:total])
        started = []
        for index in range(total):
            workdir = tmp_path / f"shard{index}"
            workdir.mkdir(exist_ok=True)
            config = {
                "state_file": str(workdir / "state.db"),
                "defaults": {"interval": "300ms", "platforms": BOTH},
                "registries": {registry.host: {"insecure": True}},
                "watches": [{"image": f"{registry.host}/{r}"} for r in REPOSITORIES],
            }
            args = ("--shard", str(index), "--total-shards", str(total), "--shard.peers", peers)
            process = ArchlagProcess(workdir, config, args)
            process.port, process.url = ports[index], f"http://127.0.0.1:{ports[index]}"
            started.append(process)
        return started

    before: dict[str, float] = {}
    two = shards(2)
    with running(two):
        for repository in REPOSITORIES:
            pusher.push_index(repository, "2.0", images[repository][:1])
        for index, process in enumerate(two):
            before |= wait_first_seen(process, registry.host, len(owned(registry.host, index, 2)))
    assert set(before) == set(REPOSITORIES)
    moved = [
        r for r in REPOSITORIES if shard_of(registry.host, r, 2) != shard_of(registry.host, r, 3)
    ]
    assert moved, "some repositories change shard"

    three = shards(3)
    after: dict[str, float] = {}
    spreads: dict[str, float | None] = {}
    with running(three):
        for index, process in enumerate(three):
            after |= wait_first_seen(process, registry.host, len(owned(registry.host, index, 3)))
        time.sleep(1.0)
        for repository in REPOSITORIES:
            pusher.push_index(repository, "2.0", images[repository])
        for index, process in enumerate(three):
            mine = owned(registry.host, index, 3)
            scrape = wait_completed(process, registry.host, mine)
            for repository in mine:
                spreads[repository] = scrape.value(
                    "archlag_tag_publication_spread_seconds_sum", registry=registry.host,
                    repository=repository,
                )  # fmt: skip
    logs = [p.log_path.read_text() for p in three]

    assert after == before, "every amd64 first-seen time survived the move"
    for repository in REPOSITORIES:
        spread = spreads[repository]
        assert spread is not None, repository
        assert spread >= 1.0, f"{repository}: measured from the old first-seen time"
    adopted = sum(log.count("event=history_adopted") for log in logs)
    assert adopted == len(moved)
