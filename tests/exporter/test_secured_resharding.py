"""Shards behind TLS and Basic authentication hand repositories off to each other.

Real registry, real archlag processes with ``--web.config.file``: one shard records first-seen
times, then two shards start, and the new one adopts the repositories that moved to it over
``https://`` with ``--shard.peers.credentials-file`` and ``--shard.peers.ca-file``. Without the
credentials, the peer answers 401 and nothing is adopted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from archlag.core.sharding import shard_of
from tests.support.archlag_process import ArchlagProcess, Scrape, free_port
from tests.support.certificates import CertificateAuthority, bcrypt_hash

pytestmark = pytest.mark.integration

REPOSITORIES = [f"team{i}/app" for i in range(6)]
USER, PASSWORD = "shard", "peers-share-this-password"


def first_seen(scrape: Scrape, host: str) -> dict[str, float]:
    found = scrape.series(
        "archlag_tag_platform_first_seen_timestamp_seconds", registry=host, tag="1.0"
    )
    return {dict(k)["repository"]: v for k, v in found.items()}


@contextmanager
def shards(
    tmp_path: Path, host: str, ports: list[int], total: int, *, credentials: bool
) -> Iterator[list[ArchlagProcess]]:
    ca = CertificateAuthority(tmp_path / "pki")
    server = ca.issue("shard")
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config: {{cert_file: {server.cert}, key_file: {server.key}}}\n"
        f"basic_auth_users: {{{USER}: '{bcrypt_hash(PASSWORD)}'}}\n",
        encoding="utf-8",
    )
    secret = tmp_path / "peer-credentials"
    secret.write_text(f"{USER}:{PASSWORD}\n", encoding="utf-8")
    peers = ",".join(f"https://127.0.0.1:{port}" for port in ports[:total])
    started = []
    try:
        for index in range(total):
            workdir = tmp_path / f"shard{index}"
            workdir.mkdir(exist_ok=True)
            config = {
                "state_file": str(workdir / "state.db"),
                "defaults": {"interval": "300ms", "platforms": ["linux/amd64"]},
                "registries": {host: {"insecure": True}},
                "watches": [{"image": f"{host}/{r}"} for r in REPOSITORIES],
            }
            args = ["--shard", str(index), "--total-shards", str(total), "--shard.peers", peers]
            args += ["--web.config.file", str(web), "--shard.peers.ca-file", str(ca.cert)]
            if credentials:
                args += ["--shard.peers.credentials-file", str(secret)]
            process = ArchlagProcess(
                workdir, config, tuple(args), ca=ca.cert, auth=(USER, PASSWORD)
            )
            process.port, process.url = ports[index], f"https://127.0.0.1:{ports[index]}"
            started.append(process.start())
        yield started
    finally:
        for process in started:
            process.stop()


@pytest.mark.parametrize("credentials", [True, False])
def test_a_new_shard_adopts_over_tls_with_the_peers_credentials(
    registry, pusher, tmp_path: Path, credentials: bool
) -> None:
    for repository in REPOSITORIES:
        pusher.push_index(repository, "1.0", [pusher.push_image(repository, "linux/amd64")])
    ports = [free_port(), free_port()]
    with shards(tmp_path, registry.host, ports, 1, credentials=credentials) as (one,):
        scrape = one.wait_for(
            lambda s: len(first_seen(s, registry.host)) == len(REPOSITORIES), what="first seen"
        )
        before = first_seen(scrape, registry.host)
    moved = [r for r in REPOSITORIES if shard_of(registry.host, r, 2) == 1]
    assert moved, "some repositories move to the new shard"
    with shards(tmp_path, registry.host, ports, 2, credentials=credentials) as (old, new):
        scrape = new.wait_for(
            lambda s: len(first_seen(s, registry.host)) == len(moved), what="the moved repos"
        )
        after = first_seen(scrape, registry.host)
        logs = new.log_path.read_text(encoding="utf-8")
        served = old.log_path.read_text(encoding="utf-8")
    if credentials:
        assert after == {r: before[r] for r in moved}, "first-seen times came over TLS"
        assert logs.count("event=history_adopted") == len(moved)
        assert served.count("event=state_requested") >= len(moved)
        assert f"user={USER}" in served
    else:
        assert logs.count("event=history_adopted") == 0
        assert "event=peer_unusable" in logs
        assert "HTTP 401" in logs
    assert PASSWORD not in logs + served
