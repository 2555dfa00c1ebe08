"""One resource of the API server kept in memory: list, then watch from the list's
resourceVersion, list again on 410 Gone; back-off on failures, keeping what it had.

A :class:`Reflector` holds each object parsed (a pod's facts, a node's platform), keyed by uid or
name, at most ``limit`` of them. An object that cannot be parsed is dropped and counted in
``invalid`` (logged once while it stays so); a watch that ends (``timeoutSeconds``) is started
again from the last resourceVersion seen, bookmarks included. ``error`` says why the latest
attempt failed (None once it works again); a 403 says which RBAC rule is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import anyio

from archlag import logs
from archlag.discovery.kube_api import (
    KubeAnswerError,
    KubeClient,
    KubeError,
    KubeGone,
    KubeRefused,
    WatchEvent,
)
from archlag.discovery.kube_objects import KubeObjectError
from archlag.discovery.limits import RetryWaits

T = TypeVar("T")
log = logging.getLogger("archlag.discovery.kubernetes")
RBAC_HINT = (
    "archlag's service account needs get, list and watch on pods and nodes "
    "(deploy/kubernetes/rbac.yaml)"
)


class Reflector(Generic[T]):
    def __init__(
        self,
        client: KubeClient,
        path: str,
        parse: Callable[[Any], T],
        key: Callable[[Any], str],
        changed: Callable[[], None],
        *,
        limit: int,
        waits: RetryWaits,
    ) -> None:
        self.path, self._client, self._parse, self._key = path, client, parse, key
        self._changed, self._limit, self._waits = changed, limit, waits
        self.items: dict[str, T] = {}
        self.invalid: dict[str, str] = {}  # key -> why it cannot be parsed
        self._logged: dict[str, str] = {}  # what was logged of them, not to repeat it
        self.synced = False  # listed at least once
        self.error: str | None = None
        self.left_out = 0  # objects beyond the limit
        self._version: str | None = None

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                if self._version is None:
                    await self._list()
                    failures = 0
                if not await self._watch():
                    failures += 1  # a watch that ended without a word: do not spin
                    await anyio.sleep(self._waits.wait(failures))
            except KubeGone as exc:
                if self._version is None:  # the list itself: not a watch that fell behind
                    failures += 1
                    self._failed(exc)
                    await anyio.sleep(self._waits.wait(failures))
                    continue
                logs.event(log, logging.INFO, "discovery_relist", path=self.path, reason=str(exc))
                self._version = None
            except KubeError as exc:
                failures += 1
                self._failed(exc)
                if isinstance(exc, KubeAnswerError):  # a stream that made no sense: start afresh
                    self._version = None
                await anyio.sleep(self._waits.wait(failures))

    async def _list(self) -> None:
        listing = await self._client.list(self.path)
        items: dict[str, T] = {}
        self.invalid, self.left_out = {}, 0
        for thing in listing.items:
            self._apply(items, "ADDED", thing)
        self.items, self._version = items, listing.resource_version
        self._logged = {k: v for k, v in self._logged.items() if self.invalid.get(k) == v}
        self._recovered()
        self.synced = True
        self._changed()

    async def _watch(self) -> bool:
        """Applies the events of one watch; False if it ended without any."""
        heard = False
        async with self._client.watch(self.path, self._version or "") as events:
            if self.error is not None:  # accepted: it works again, though nothing changed
                self._recovered()
                self._changed()
            async for event in events:
                heard = True
                if event.resource_version is not None:
                    self._version = event.resource_version
                if event.type != "BOOKMARK":
                    self._event(event)
        return heard

    def _event(self, event: WatchEvent) -> None:
        self._recovered()
        self._apply(self.items, event.type, event.object)
        self._changed()

    def _apply(self, items: dict[str, T], kind: str, thing: Any) -> None:
        try:
            key = self._key(thing)
        except KubeObjectError as exc:
            self._invalid(f"#{len(self.invalid)}", _name(thing), str(exc))
            return
        if kind == "DELETED":
            items.pop(key, None)
            self.invalid.pop(key, None)
            self._logged.pop(key, None)
            return
        if key not in items and len(items) >= self._limit:
            self.left_out += 1
            if self.left_out == 1:
                logs.event(log, logging.WARNING, "discovery_objects_left_out", path=self.path,
                           limit=self._limit)  # fmt: skip
            return
        try:
            items[key] = self._parse(thing)
            self.invalid.pop(key, None)
            self._logged.pop(key, None)
        except KubeObjectError as exc:
            items.pop(key, None)
            self._invalid(key, _name(thing), str(exc))

    def _invalid(self, key: str, name: str, reason: str) -> None:
        if self._logged.get(key) != reason:
            logs.event(log, logging.WARNING, "discovery_item_failed", source="kubernetes",
                       item=name, reason=reason)  # fmt: skip
        self.invalid[key] = self._logged[key] = reason

    def _failed(self, exc: KubeError) -> None:
        reason = str(exc)
        if isinstance(exc, KubeRefused) and exc.status == 403:
            reason = f"{reason} ({RBAC_HINT})"
        if reason != self.error:
            logs.event(log, logging.WARNING, "discovery_kubernetes_failed", path=self.path,
                       reason=reason)  # fmt: skip
        self.error = reason
        self._changed()

    def _recovered(self) -> None:
        if self.error is not None:
            logs.event(log, logging.INFO, "discovery_kubernetes_recovered", path=self.path)
            self.error = None


def _name(thing: Any) -> str:
    """``namespace/name`` of an object, for a log line, whatever it holds."""
    metadata = thing.get("metadata") if isinstance(thing, dict) else None
    if not isinstance(metadata, dict):
        return "(an object without metadata)"
    parts = [metadata.get("namespace"), metadata.get("name")]
    return "/".join(str(p)[:100] for p in parts if isinstance(p, str) and p) or "(no name)"
