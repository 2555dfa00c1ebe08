"""The runner: every configured source in one task group, merged into one snapshot.

:class:`Discovery` starts one task per source the settings name (what each is built from comes
from :func:`archlag.discovery.catalogue.plan_sources`), each in its own cancel scope: a source
that raises is logged, marked down and started again after a back-off, and the others go on. A
reload (:meth:`Discovery.reconfigure`) restarts only the sources whose settings changed; a
source that changed keeps its last set until its new reading, one that was removed takes its
sightings with it. Every change of the merged snapshot (a reading, a source up or down, an image
whose grace ran out) is passed to ``on_change``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import anyio
from anyio.abc import TaskGroup

from archlag import logs
from archlag.config.settings import DiscoverySettings
from archlag.discovery.catalogue import SourcePlan, plan_sources
from archlag.discovery.census import DiscoverySnapshot, SourceState
from archlag.discovery.interface import Reading
from archlag.discovery.ledger import NOT_READ_YET, Ledger
from archlag.discovery.limits import RetryWaits
from archlag.discovery.sighting import SourceName

log = logging.getLogger("archlag.discovery")
RESTART_WAITS = RetryWaits(initial=5.0, cap=300.0)  # after a source raised
_EXPIRY_SLACK = 0.01  # seconds past an image's expiry before looking: the clocks differ

Planner = Callable[[DiscoverySettings], Mapping[SourceName, SourcePlan]]
Listener = Callable[[DiscoverySnapshot], None]


@dataclass(slots=True)
class _Running:
    key: object
    scope: anyio.CancelScope


class _Report:
    """What one run of one source reports through; silent once that run was cancelled."""

    def __init__(self, discovery: Discovery, name: SourceName, scope: anyio.CancelScope) -> None:
        self._discovery, self._name, self._scope = discovery, name, scope
        self.failures = 0

    def publish(self, reading: Reading) -> None:
        if not self._scope.cancel_called:
            self.failures = 0
            self._discovery._published(self._name, reading)

    def down(self, reason: str) -> None:
        if not self._scope.cancel_called:
            self._discovery._down(self._name, reason)


class Discovery:
    """Runs the sources of ``settings`` (see the package's docstring for its use)."""

    def __init__(
        self,
        settings: DiscoverySettings,
        *,
        on_change: Listener | None = None,
        clock: Callable[[], float] = time.time,
        plan: Planner = plan_sources,
        restart: RetryWaits = RESTART_WAITS,
    ) -> None:
        self._settings = settings
        self._on_change, self._clock, self._plan, self._restart = on_change, clock, plan, restart
        self._ledger = Ledger(settings.grace, settings.max_images)
        self._snapshot = DiscoverySnapshot(max_images=settings.max_images)
        self._running: dict[SourceName, _Running] = {}
        self._group: TaskGroup | None = None
        self._wake = anyio.Event()

    @property
    def settings(self) -> DiscoverySettings:
        return self._settings

    def snapshot(self) -> DiscoverySnapshot:
        return self._snapshot

    def reconfigure(self, settings: DiscoverySettings) -> None:
        """Take new settings: sources whose settings changed start again, others go on."""
        self._settings = settings
        self._ledger.grace, self._ledger.max_images = settings.grace, settings.max_images
        if self._group is not None:
            self._start_and_stop(self._group)
        self._changed()

    async def run(self) -> None:
        """Run the sources until cancelled.

        Raises:
            RuntimeError: it runs already.
        """
        if self._group is not None:
            raise RuntimeError("discovery runs already")
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                self._start_and_stop(group)
                self._changed()
                await self._expire_forever()
        finally:
            self._group = None
            self._running.clear()

    def _start_and_stop(self, group: TaskGroup) -> None:
        plans = self._plan(self._settings)
        for name, running in list(self._running.items()):
            if name not in plans or plans[name].key != running.key:
                running.scope.cancel()
                del self._running[name]
                if name not in plans:
                    self._ledger.remove(name)
                    logs.event(log, logging.INFO, "discovery_source_stopped", source=name)
        for name, plan in plans.items():
            if name not in self._running:
                self._ledger.add(name, self._clock())
                scope = anyio.CancelScope()
                self._running[name] = _Running(plan.key, scope)
                group.start_soon(self._supervise, name, plan, scope)

    async def _supervise(
        self, name: SourceName, plan: SourcePlan, scope: anyio.CancelScope
    ) -> None:
        with scope:
            report = _Report(self, name, scope)
            while True:
                try:
                    await plan.build().run(report)
                    problem = "the source stopped"
                except Exception as exc:  # a source's bug must not stop the other sources
                    problem = f"the source failed: {type(exc).__name__}"
                    logs.event(log, logging.ERROR, "discovery_source_failed", source=name,
                               error=f"{type(exc).__name__}: {exc}"[:500])  # fmt: skip
                report.failures += 1
                report.down(problem)
                await anyio.sleep(self._restart.wait(report.failures))

    def _published(self, name: SourceName, reading: Reading) -> None:
        self._ledger.published(name, reading, self._clock())
        self._changed()

    def _down(self, name: SourceName, reason: str) -> None:
        self._ledger.down(name, reason, self._clock())
        self._changed()

    def _changed(self) -> None:
        snapshot = self._ledger.settle(self._clock())
        if snapshot == self._snapshot:
            return
        before, self._snapshot = self._snapshot, snapshot
        _log_changes(before, snapshot)
        self._wake.set()
        if self._on_change is not None:
            try:
                self._on_change(snapshot)
            except Exception as exc:  # a listener's bug must not stop discovery
                logs.event(log, logging.ERROR, "discovery_listener_failed",
                           error=f"{type(exc).__name__}: {exc}"[:500])  # fmt: skip

    async def _expire_forever(self) -> None:
        """Wakes when the next image that stopped running leaves, or something else changed."""
        while True:
            self._wake = anyio.Event()
            expiry = self._ledger.next_expiry()
            delay = math.inf if expiry is None else max(expiry - self._clock(), 0.0)
            with anyio.move_on_after(delay + _EXPIRY_SLACK):
                await self._wake.wait()
            self._changed()


def _log_changes(before: DiscoverySnapshot, after: DiscoverySnapshot) -> None:
    old: dict[SourceName, SourceState] = {status.name: status for status in before.sources}
    for status in after.sources:
        was = old.get(status.name)
        if status.up and (was is None or not was.up or was.reason != status.reason):
            note = {"note": status.reason} if status.reason else {}
            logs.event(log, logging.INFO, "discovery_source_up", source=status.name,
                       sightings=status.sightings, invalid=status.invalid, **note)  # fmt: skip
        elif not status.up and status.reason == NOT_READ_YET:
            logs.event(log, logging.DEBUG, "discovery_source_starting", source=status.name)
        elif not status.up and (was is None or was.up or was.reason != status.reason):
            logs.event(log, logging.WARNING, "discovery_source_down", source=status.name,
                       reason=status.reason, sightings_kept=status.sightings)  # fmt: skip
        elif was is not None and (was.sightings, was.invalid) != (status.sightings, status.invalid):
            logs.event(log, logging.DEBUG, "discovery_source_changed", source=status.name,
                       sightings=status.sightings, invalid=status.invalid)  # fmt: skip
    if after.refused_repositories and not before.refused_repositories:
        logs.event(log, logging.WARNING, "discovery_images_over_bound",
                   max_images=after.max_images, refused=after.refused_repositories)  # fmt: skip
    elif before.refused_repositories and not after.refused_repositories:
        logs.event(log, logging.INFO, "discovery_images_within_bound", max_images=after.max_images)
