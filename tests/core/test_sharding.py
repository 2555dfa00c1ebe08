"""Sharding: --shard/--total-shards split the watched repositories, stably and completely.

Three real archlag shards and one unsharded archlag against one real registry: the union of the
shards' tag and platform series is the unsharded one's, and no repository is in two shards.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from archlag.core.sharding import Shard, ShardError, ordinal_from_hostname, shard_of
from tests.support.archlag_process import ArchlagProcess, Scrape, run_archlag

BOTH = ["linux/amd64", "linux/arm64"]
REPOSITORIES = [f"team{i}/app" for i in range(12)]


def test_every_repository_has_one_stable_shard() -> None:
    owners = {r: [i for i in range(3) if Shard(i, 3).owns("r.example", r)] for r in REPOSITORIES}
    assert all(len(found) == 1 for found in owners.values())
    assert {found[0] for found in owners.values()} == {0, 1, 2}, "12 repositories use all 3"
    assert shard_of("r.example", "team0/app", 3) == owners["team0/app"][0]
    assert shard_of("docker.io", "gotify/server", 7) == 0, "SHA-256: the same on every machine"


@pytest.mark.parametrize(
    ("hostname", "ordinal"), [("archlag-0", 0), ("archlag-12", 12), ("my-archlag-exporter-3", 3)]
)
def test_ordinals_come_from_statefulset_hostnames(hostname: str, ordinal: int) -> None:
    assert ordinal_from_hostname(hostname) == ordinal


@pytest.mark.parametrize("hostname", ["archlag", "archlag-", "archlag-x", "archlag-1234567"])
def test_hostnames_without_an_ordinal_are_refused(hostname: str) -> None:
    with pytest.raises(ShardError, match="does not end in -<ordinal>"):
        ordinal_from_hostname(hostname)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard", "3", "--total-shards", "3"], "--shard must be from 0 to 2"),
        (["--total-shards", "0"], "--total-shards must be from 1 to 1000"),
        (["--shard", "1", "--shard.from-hostname", "--total-shards", "2"], "not both"),
    ],
)
def test_bad_shard_flags_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    config = tmp_path / "archlag.yml"
    config.write_text("watches: [{image: a/b}]\n", encoding="utf-8")
    result = run_archlag("-c", str(config), *args)
    assert result.returncode == 2
    assert message in result.stderr


def series(scrape: Scrape) -> dict[tuple[str, str, str], float]:
    found = scrape.series("archlag_tag_platform_available")
    return {
        (dict(k)["repository"], dict(k)["tag"], dict(k)["platform"]): v for k, v in found.items()
    }


@pytest.mark.integration
def test_three_shards_together_export_what_one_archlag_exports(registry, pusher, tmp_path) -> None:
    for repository in REPOSITORIES:
        images = [pusher.push_image(repository, p, seed=repository) for p in BOTH]
        pusher.push_index(repository, "1.0", images)
        pusher.push_index(repository, "2.0", images[:1])

    def config(name: str) -> dict:
        return {
            "state_file": str(tmp_path / f"{name}.db"),
            "defaults": {"interval": "300ms", "platforms": BOTH},
            "registries": {registry.host: {"insecure": True}},
            "watches": [{"image": f"{registry.host}/{r}"} for r in REPOSITORIES],
        }

    def complete(expected: int) -> object:
        return lambda s: len(series(s)) == expected

    for name in ("whole", "shard0", "shard1", "shard2"):
        (tmp_path / name).mkdir()
    whole = ArchlagProcess(tmp_path / "whole", config("whole"))
    shards = [
        ArchlagProcess(
            tmp_path / f"shard{i}", config(f"shard{i}"), ("--shard", str(i), "--total-shards", "3")
        )
        for i in range(3)
    ]
    owned = [sum(Shard(i, 3).owns(registry.host, r) for r in REPOSITORIES) for i in range(3)]
    with whole, shards[0], shards[1], shards[2]:
        expected = whole.wait_for(complete(4 * len(REPOSITORIES)), what="every series, unsharded")
        parts = [s.wait_for(complete(4 * n)) for s, n in zip(shards, owned, strict=True)]
    union: dict[tuple[str, str, str], float] = {}
    for part in parts:
        overlap = {repository for repository, _, _ in series(part)} & {r for r, _, _ in union}
        assert not overlap, f"repositories in two shards: {overlap}"
        union |= series(part)
    assert union == series(expected)
    for index, part in enumerate(parts):
        assert part.value("archlag_shard_ordinal") == index
        assert part.value("archlag_total_shards") == 3
