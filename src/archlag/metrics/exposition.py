"""``/metrics``: rendered once per change of state, served from that rendering to every scraper.

:class:`Exposition` keeps the latest rendering of the snapshot's families. A background task
(:meth:`Exposition.run`) renders again, in a worker thread, when a poll changed the state
(:meth:`Exposition.changed`), busy no more than a fifth of the time; only repositories whose
snapshot changed are rendered again. A scrape never renders and never waits for a rendering:
it gets the latest one plus the few small families that change with every request (rate
limits, archlag's own request counters), so any number of scrapers cost one rendering, and a
client that went away leaves nothing running.

:func:`render_snapshot` renders a snapshot in one go, for tests and benchmarks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from archlag.core.snapshots import LiveSnapshot, Snapshot
from archlag.metrics.compressed import Compressed, compress
from archlag.metrics.hold import Key, NewSeriesHold, Scraper
from archlag.metrics.live import LateSeries, live_families
from archlag.metrics.repository import SPECS, RepositoryChunks, repository_lines
from archlag.metrics.text import Family, Spec, label_set, render

TEXT = "text/plain; version=0.0.4; charset=utf-8"
# Rest after a rendering, per second it took: rendering takes at most a fifth of a core.
REST_PER_RENDER_SECOND = 4.0
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
REGISTRY_UP = Spec(
    "archlag_registry_up",
    "gauge",
    "1 unless the latest poll of a watch on this registry could not reach it (connection, "
    "timeout, 5xx, rate limit); a missing or denied repository is its watch's status",
)


@dataclass(frozen=True, slots=True)
class Rendering:
    """The latest rendering, as the pieces it is made of: family headers and each repository's
    lines of each family. Nothing is joined, so nothing is held twice."""

    text: tuple[bytes, ...]
    openmetrics: tuple[bytes, ...]  # without the final "# EOF"
    held: frozenset[Key]  # series shown at zero in this rendering
    text_gzip: Compressed  # the same, compressed (see archlag.metrics.compressed)
    openmetrics_gzip: Compressed


@dataclass(frozen=True, slots=True)
class _Cached:
    generation: int
    epoch: int
    chunks: RepositoryChunks


_HEADERS = {
    spec.name: (spec.header(openmetrics=False).encode(), spec.header(openmetrics=True).encode())
    for spec in SPECS
}


class RenderSchedule:
    """Says when the state changed and ``/metrics`` should be rendered again: what the pollers
    call (:meth:`changed`) and the exposition waits for (:meth:`wait`). Event loop only."""

    def __init__(self) -> None:
        self._stale = False
        self._wakeup: anyio.Event | None = None

    def changed(self) -> None:
        self._stale = True
        if self._wakeup is not None:
            self._wakeup.set()

    async def wait(self) -> None:
        """Until something changed since the last wait (at once if it already did)."""
        if not self._stale:
            self._wakeup = anyio.Event()
            await self._wakeup.wait()
        self._stale = False


class Exposition:
    """The latest rendering of a snapshot source, and what each scrape is served.

    ``snapshot`` gives the watches' snapshot (rendered again after each :meth:`changed`),
    ``live`` what is rendered at every scrape; ``schedule`` is shared with whoever changes the
    state.
    """

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        *,
        live: Callable[[], LiveSnapshot] | None = None,
        schedule: RenderSchedule | None = None,
        hold: NewSeriesHold | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._live = live
        self._schedule = schedule or RenderSchedule()
        self.hold = hold or NewSeriesHold()
        self._cache: dict[str, _Cached] = {}
        self._epochs: dict[str, int] = {}
        self._latest: Rendering | None = None
        self._late = LateSeries()

    def prime(self) -> None:
        """Render the restored state once, before serving: series with values are known."""
        with self.hold.priming():
            self._latest = self._render(self._snapshot())

    def changed(self) -> None:
        """The state changed (call on the event loop): render again soon."""
        self._schedule.changed()

    async def run(self) -> None:
        """Render after every change, for ever (one rendering at a time).

        After each rendering it rests :data:`REST_PER_RENDER_SECOND` times as long as that
        rendering took, and changes made meanwhile are rendered together: with thousands of
        tags, polls finishing one after another would otherwise keep a core busy rendering
        back to back. A small state renders in milliseconds and is barely delayed.
        """
        while True:
            await self._schedule.wait()
            started = time.perf_counter()
            snapshot = self._snapshot()  # taken on the event loop, between two polls' updates
            self._latest = await anyio.to_thread.run_sync(self._render, snapshot)
            await anyio.sleep((time.perf_counter() - started) * REST_PER_RENDER_SECOND)

    def body(
        self, *, openmetrics: bool, scraper: Scraper | None = None, gzip: bool = False
    ) -> list[bytes]:
        """What one scrape is sent, in pieces (the big one shared by every scrape); ``gzip``:
        compressed (``Content-Encoding: gzip``)."""
        if self._latest is None:
            self.prime()
        latest = self._latest
        assert latest is not None
        released = self.hold.served(scraper, latest.held)
        if released:
            for group in released:
                self._epochs[group] = self._epochs.get(group, 0) + 1
            self.changed()
        families = live_families(self._live(), self._late) if self._live is not None else []
        live = render(families, openmetrics=openmetrics).encode()
        tail = live + b"# EOF\n" if openmetrics else live
        if gzip:
            compressed = latest.openmetrics_gzip if openmetrics else latest.text_gzip
            return [compressed.head, compressed.finish(tail)]
        return [*(latest.openmetrics if openmetrics else latest.text), tail]

    def _render(self, snapshot: Snapshot) -> Rendering:
        repositories = []
        held: set[Key] = set()
        seen = set()
        for repo in snapshot.repositories:
            group = f"{repo.registry}/{repo.repository}"
            seen.add(group)
            epoch = self._epochs.get(group, 0)
            cached = self._cache.get(group)
            if cached is None or (cached.generation, cached.epoch) != (repo.generation, epoch):
                cached = _Cached(repo.generation, epoch, repository_lines(repo, self.hold))
                self._cache[group] = cached
            repositories.append(cached.chunks)
            held |= cached.chunks.held
        for gone in self._cache.keys() - seen:
            del self._cache[gone]
        up = Family(REGISTRY_UP)
        for registry, ok in sorted(snapshot.registries_up().items()):
            up.gauge(label_set(registry=registry), 1 if ok else 0)
        text: list[bytes] = []
        openmetrics: list[bytes] = []
        for spec in SPECS:
            header_text, header_openmetrics = _HEADERS[spec.name]
            text.append(header_text)
            openmetrics.append(header_openmetrics)
            for chunks in repositories:
                lines_text, lines_openmetrics = chunks.families[spec.name]
                if lines_text:
                    text.append(lines_text)
                if lines_openmetrics:
                    openmetrics.append(lines_openmetrics)
        text.append(render([up], openmetrics=False).encode())
        openmetrics.append(render([up], openmetrics=True).encode())
        return Rendering(
            tuple(text), tuple(openmetrics), frozenset(held), compress(text), compress(openmetrics)
        )


def render_snapshot(
    snapshot: Snapshot, *, openmetrics: bool = False, live: LiveSnapshot | None = None
) -> str:
    """A whole /metrics body for a snapshot, every restored value shown (tests, benchmarks)."""
    exposition = Exposition(lambda: snapshot, live=(lambda: live) if live is not None else None)
    exposition.prime()
    return b"".join(exposition.body(openmetrics=openmetrics)).decode()
