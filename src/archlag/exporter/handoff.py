"""Resharding without losing history: a shard adopts a repository's rows from its old owner.

When the number of shards changes, repositories move between shards, and each shard has a state
file of its own. A shard started with ``--shard.peers``, whose state file is new or was last
written with another number of shards (:func:`needed`), asks every peer, before the first poll
of each of its watches, for the rows it stores for that repository (``GET /api/v1/state``); when
a peer's are newer than its own (a later ``last_listing``), it imports them in one transaction
and polls on from there. Peers that are not up yet (they restart together) are asked again for
up to :data:`PEER_WAIT_SECONDS`. Peers behind ``--web.config.file`` are reached with
``--shard.peers.credentials-file`` and ``--shard.peers.ca-file``
(:mod:`archlag.registry.archlag_access`). In-flight publications keep their first-seen times
and their "already observed" marks, so nothing is lost and nothing counted twice. A peer that
cannot be reached, or answers with something that is not a valid export, is skipped (and
logged): the watch starts from what this shard has.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import anyio
import httpx

from archlag import logs
from archlag.registry.archlag_access import ArchlagAccess
from archlag.registry.jsonbody import JsonBodyError, loads
from archlag.store import Store, StoreError, TransferError
from archlag.store.transfer import TABLES

log = logging.getLogger("archlag.handoff")


class _Unusable(Exception):
    """A peer's answer that is not an export."""


MAX_EXPORT_BYTES = 64 << 20
TIMEOUT_SECONDS = 10.0
PEER_WAIT_SECONDS = 30.0  # peers restart together when the number of shards changes
RETRY_SECONDS = 1.0


TOTAL_SHARDS_KEY = "total_shards"
_LAST_LISTING = list(TABLES["repositories"]).index("last_listing")  # its column in an export


def needed(store: Store, total_shards: int) -> bool:
    """Whether repositories may have moved here since this state file was last written: it is
    new, or the last handoff into it (:func:`done`) was for another number of shards."""
    return store.meta(TOTAL_SHARDS_KEY) != str(total_shards)


def done(store: Store, total_shards: int) -> None:
    """Every watch of this start has asked the peers: a restart with the same number of shards
    needs not ask again. (Recorded only then, so a shard killed halfway asks again.)"""
    store.set_meta(TOTAL_SHARDS_KEY, str(total_shards))


async def adopt(
    store: Store,
    registry: str,
    repository: str,
    peers: Sequence[str],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    access: ArchlagAccess | None = None,
) -> bool:
    """Import the newest history any peer holds for the repository, if newer than ours;
    ``access`` says how to reach the peers (Basic credentials, their CA)."""
    if not peers:
        return False
    ours = await anyio.to_thread.run_sync(store.export, registry, repository)
    found: dict[str, dict[str, Any] | None] = {}

    async def ask(http: httpx.AsyncClient, peer: str) -> None:
        found[peer] = await _fetch(http, peer, registry, repository)

    async with (
        httpx.AsyncClient(
            timeout=TIMEOUT_SECONDS,
            transport=transport,
            **(access or ArchlagAccess()).client_options(),
        ) as http,
        anyio.create_task_group() as group,
    ):
        for peer in peers:
            group.start_soon(ask, http, peer)
    best, source = None, ""
    for peer in peers:
        document = found.get(peer)
        if document is not None and _listed_at(document) > _listed_at(best or ours):
            best, source = document, peer
    if best is None:
        return False
    try:
        await anyio.to_thread.run_sync(store.adopt, registry, repository, best)
    except (TransferError, StoreError) as exc:
        logs.event(log, logging.WARNING, "history_not_adopted", registry=registry,
                   repository=repository, peer=source, error=str(exc))  # fmt: skip
        return False
    logs.event(log, logging.INFO, "history_adopted", registry=registry, repository=repository,
               peer=source, tags=len(best["tables"]["tags"]))  # fmt: skip
    return True


async def _fetch(
    http: httpx.AsyncClient, peer: str, registry: str, repository: str
) -> dict[str, Any] | None:
    """The peer's export of the repository; a peer not up yet is asked again for a while."""
    deadline = anyio.current_time() + PEER_WAIT_SECONDS
    while True:
        try:
            return await _fetch_once(http, peer, registry, repository)
        except httpx.TransportError as exc:
            if anyio.current_time() >= deadline:
                logs.event(log, logging.WARNING, "peer_unreachable", peer=peer, registry=registry,
                           repository=repository, error=type(exc).__name__)  # fmt: skip
                return None
            await anyio.sleep(RETRY_SECONDS)


async def _fetch_once(
    http: httpx.AsyncClient, peer: str, registry: str, repository: str
) -> dict[str, Any] | None:
    """One request; a transport error is raised, anything else unusable is None."""
    url = f"{peer.rstrip('/')}/api/v1/state"
    try:
        async with http.stream("GET", url, params={"image": f"{registry}/{repository}"}) as reply:
            if reply.status_code == 404:
                return None
            body = bytearray()
            async for chunk in reply.aiter_bytes():
                body += chunk
                if len(body) > MAX_EXPORT_BYTES:
                    raise _Unusable("the export is too large")
            if reply.status_code != 200:
                raise _Unusable(f"HTTP {reply.status_code}")
        document = loads(bytes(body), max_bytes=MAX_EXPORT_BYTES)
        if not isinstance(document, dict):
            raise _Unusable("the export is not a JSON object")
    except httpx.TransportError:
        raise
    except (httpx.HTTPError, httpx.InvalidURL, JsonBodyError, _Unusable) as exc:
        logs.event(log, logging.WARNING, "peer_unusable", peer=peer, registry=registry,
                   repository=repository, error=f"{type(exc).__name__}: {exc}"[:300])  # fmt: skip
        return None
    return document


def _listed_at(document: dict[str, Any] | None) -> float:
    """The export's last listing time (-1 when it has none)."""
    try:
        row = document["tables"]["repositories"][0] if document else None
        value = row[_LAST_LISTING] if row else None
    except (KeyError, IndexError, TypeError):
        return -1.0
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else -1.0
