"""A shard adopts a moved repository's history from its peers, and survives peers that misbehave.

The good peers are the real archlag app (``GET /api/v1/state``) over a real state file, served
in process; the misbehaving ones (garbage, a huge body, errors, not up yet) are hand-written,
since no archlag would answer like that.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import anyio
import httpx
import pytest

from archlag.core.snapshots import Snapshot
from archlag.exporter import handoff
from archlag.logs import KeyValueFormatter
from archlag.metrics import Exposition
from archlag.store import SQLiteStore
from archlag.web.app import Readiness, create_app
from tests.support.fake_registry import AMD, ARM, Clock, FakeRegistry, make_poller

REGISTRY = "127.0.0.1:5000"
REPO = "demo/app"


class Peers(httpx.AsyncBaseTransport):
    """Each peer host answered by its own transport; a host not (yet) up refuses connections."""

    def __init__(self) -> None:
        self.hosts: dict[str, httpx.AsyncBaseTransport] = {}
        self.asked: list[str] = []

    def archlag(self, host: str, store: SQLiteStore) -> None:
        async def export(registry: str, repository: str):  # the runner's, over a real file
            return store.export(registry, repository)

        empty = Snapshot(())
        app = create_app(
            Exposition(lambda: empty), lambda: empty, Readiness(0, 0), "1", export=export
        )
        self.hosts[host] = httpx.ASGITransport(app=app)

    def answering(self, host: str, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.hosts[host] = httpx.MockTransport(handler)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url.host)
        transport = self.hosts.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError("connection refused", request=request)
        return await transport.handle_async_request(request)


async def _endless() -> AsyncIterator[bytes]:
    """A body that never ends: archlag must stop reading it."""
    while True:
        yield b"x" * (1 << 20)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """The captured records as archlag writes them (``event=... key=value``)."""
    return "\n".join(KeyValueFormatter().format(record) for record in caplog.records)


async def _history(store: SQLiteStore, clock: Clock, polls: int) -> SQLiteStore:
    """``store`` with 2.0 in flight (amd64 only), listed ``polls`` times."""
    registry = FakeRegistry()
    registry.publish("1.0", AMD, ARM)
    registry.publish("2.0", AMD)
    poller = make_poller(store, registry, clock, platforms=frozenset({AMD, ARM}))
    for _ in range(polls):
        await poller.poll()
        clock.now += 60
    return store


@pytest.fixture
def mine(state_files) -> SQLiteStore:
    return state_files("mine")


@pytest.mark.anyio
async def test_the_newest_history_among_peers_is_adopted(state_files, mine) -> None:
    clock = Clock()
    older = await _history(state_files("older"), clock, 1)
    newer = await _history(state_files("newer"), clock, 2)
    peers = Peers()
    peers.archlag("older", older)
    peers.archlag("newer", newer)

    adopted = await handoff.adopt(
        mine, REGISTRY, REPO, ["http://older", "http://newer:10043/"], transport=peers
    )
    assert adopted
    assert mine.export(REGISTRY, REPO) == newer.export(REGISTRY, REPO)
    assert await handoff.adopt(mine, REGISTRY, REPO, ["http://newer"], transport=peers) is False
    assert await handoff.adopt(mine, REGISTRY, REPO, ["http://older"], transport=peers) is False
    assert mine.export(REGISTRY, REPO) == newer.export(REGISTRY, REPO), "older never wins"


@pytest.mark.anyio
async def test_no_peer_holding_the_repository_adopts_nothing(state_files, mine) -> None:
    peers = Peers()
    peers.archlag("empty", state_files("empty"))
    assert await handoff.adopt(mine, REGISTRY, REPO, ["http://empty"], transport=peers) is False
    assert await handoff.adopt(mine, REGISTRY, REPO, [], transport=peers) is False
    assert mine.export(REGISTRY, REPO) is None


@pytest.mark.anyio
async def test_misbehaving_peers_are_skipped_and_logged(state_files, mine, caplog) -> None:
    clock = Clock()
    good = await _history(state_files("good"), clock, 1)
    document = good.export(REGISTRY, REPO)
    assert document is not None
    peers = Peers()
    peers.archlag("good", good)
    peers.answering("garbage", lambda r: httpx.Response(200, content=b"{not json"))
    peers.answering("array", lambda r: httpx.Response(200, json=[document]))
    peers.answering("failing", lambda r: httpx.Response(500, text="boom"))
    peers.answering("huge", lambda r: httpx.Response(200, content=_endless()))
    forged = {**document, "schema_version": 999}
    forged["tables"] = {**document["tables"], "repositories": [[REGISTRY, REPO, 1, 9e99, 9e99]]}
    peers.answering("forged", lambda r: httpx.Response(200, json=forged))
    hostile = ["garbage", "array", "failing", "huge", "forged"]

    with caplog.at_level(logging.WARNING, logger="archlag.handoff"):
        adopted = await handoff.adopt(
            mine, REGISTRY, REPO, [f"http://{h}" for h in [*hostile, "good"]], transport=peers
        )
    assert adopted is False, "the forged export claims the newest listing and is refused"
    assert mine.export(REGISTRY, REPO) is None, "nothing half-imported"
    text = logged(caplog)
    assert "event=history_not_adopted" in text
    assert "schema version 999" in text
    assert text.count("event=peer_unusable") == 4  # garbage, array, failing, huge
    assert "too large" in text
    assert "HTTP 500" in text

    caplog.clear()
    adopted = await handoff.adopt(
        mine, REGISTRY, REPO, [f"http://{h}" for h in [*hostile[:-1], "good"]], transport=peers
    )
    assert adopted, "the good peer's history is adopted beside the misbehaving ones"
    assert mine.export(REGISTRY, REPO) == document


@pytest.mark.anyio
async def test_a_peer_not_up_yet_is_asked_again(state_files, mine, monkeypatch, caplog) -> None:
    monkeypatch.setattr(handoff, "RETRY_SECONDS", 0.05)
    monkeypatch.setattr(handoff, "PEER_WAIT_SECONDS", 5.0)
    late = await _history(state_files("late"), Clock(), 1)
    peers = Peers()

    async def comes_up() -> None:
        await anyio.sleep(0.3)
        peers.archlag("late", late)

    async with anyio.create_task_group() as group:
        group.start_soon(comes_up)
        assert await handoff.adopt(mine, REGISTRY, REPO, ["http://late"], transport=peers)
    assert peers.asked.count("late") >= 3, "refused while down, asked again"

    monkeypatch.setattr(handoff, "PEER_WAIT_SECONDS", 0.2)
    with caplog.at_level(logging.WARNING, logger="archlag.handoff"):
        assert not await handoff.adopt(mine, "other:5000", REPO, ["http://gone"], transport=peers)
    assert "event=peer_unreachable" in logged(caplog)
    assert "peer=http://gone" in logged(caplog)


@pytest.mark.anyio
async def test_state_endpoint_answers_400_and_404_as_json(state_files) -> None:
    peers = Peers()
    peers.archlag("peer", state_files("empty"))
    async with httpx.AsyncClient(transport=peers, base_url="http://peer") as http:
        missing = await http.get("/api/v1/state", params={"image": f"{REGISTRY}/{REPO}"})
        tagged = await http.get("/api/v1/state", params={"image": f"{REGISTRY}/{REPO}:1.0"})
        empty = await http.get("/api/v1/state")
    assert missing.status_code == 404
    assert "no history" in missing.json()["error"]
    assert tagged.status_code == 400
    assert empty.status_code == 400
    assert "error" in empty.json()
