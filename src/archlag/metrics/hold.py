"""New counter and histogram series are shown at zero before their first count.

``increase()`` needs a sample before the first increment: a series born already at 1 (a
platform's first delay observation, a watch's first completion) is invisible to it, and the
mean-delay query returns NaN. So archlag shows every *new* label set of a counter or histogram
at zero until every Prometheus that scrapes archlag has fetched it at zero, and only then its
value. Observations are never lost or delayed in the state: only their first appearance on
``/metrics`` waits, typically one scrape interval.

Scrapers are told apart by address and User-Agent, and only requests that carry Prometheus'
``X-Prometheus-Scrape-Timeout-Seconds`` header count (a person's ``curl`` neither releases nor
holds anything). A scraper counts as active for :data:`ACTIVE_WINDOW_SECONDS` after its last
scrape; a series waits at most that long. While no Prometheus is active (nobody scrapes, or
archlag just started and none has scraped yet) nothing is held: there is nobody to hold it for.
A series restored at start with the same labels as before a restart continues its old samples
and needs no hold.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

ACTIVE_WINDOW_SECONDS = 600.0

Key = tuple[str, str]  # (metric family, rendered label set)
Scraper = tuple[str, str]  # (client address, User-Agent)


@dataclass(slots=True)
class _Pending:
    group: str  # what to re-render when it is released (a repository)
    born: float  # monotonic
    served_to: set[Scraper] = field(default_factory=set)


class NewSeriesHold:
    """Decides, per label set, whether its value may be shown yet. Thread-safe."""

    def __init__(
        self,
        *,
        window: float = ACTIVE_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._window = window
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._known: set[Key] = set()
        self._pending: dict[Key, _Pending] = {}
        self._created: dict[Key, float] = {}  # wall-clock birth of series born in this process
        self._scrapers: dict[Scraper, float] = {}
        self._priming = False

    @contextmanager
    def priming(self) -> Iterator[None]:
        """During the first rendering: every series was restored, and its birth is unknown."""
        self._priming = True
        try:
            yield
        finally:
            self._priming = False

    def shown(self, group: str, key: Key, has_value: bool) -> bool:
        """True to show the series' value; False to show it at zero, for now.

        ``has_value`` says whether the value is non-zero: a series at zero shows the same
        either way, so it is only remembered.
        """
        with self._lock:
            if key in self._known:
                return True
            now = self._clock()
            pending = self._pending.get(key)
            if pending is None and not self._priming:
                self._created[key] = self._wall_clock()
            if self._priming or not self._active(now):
                self._known.add(key)
                self._pending.pop(key, None)
                return True
            if pending is None:
                self._pending[key] = _Pending(group, now)
                return not has_value
            if now - pending.born >= self._window:
                self._release(key)
                return True
            return not has_value

    def created(self, key: Key) -> float | None:
        """When a series born in this process appeared (at zero); None for restored ones."""
        return self._created.get(key)

    def served(self, scraper: Scraper | None, held: Collection[Key]) -> set[str]:
        """A response showing ``held`` at zero went to ``scraper`` (None: not a Prometheus).

        Returns the groups that have series released by it, to be rendered again.
        """
        with self._lock:
            now = self._clock()
            if scraper is not None:
                self._scrapers[scraper] = now
                for key in held:
                    pending = self._pending.get(key)
                    if pending is not None:
                        pending.served_to.add(scraper)
            active = self._active(now)
            released = set()
            for key, pending in list(self._pending.items()):
                seen = active <= pending.served_to
                if seen or now - pending.born >= self._window:
                    released.add(pending.group)
                    self._release(key)
            return released

    def _active(self, now: float) -> set[Scraper]:
        """The Prometheus scrapers seen within the window (forgetting older ones)."""
        for old in [s for s, t in self._scrapers.items() if now - t > self._window]:
            del self._scrapers[old]
        return set(self._scrapers)

    def _release(self, key: Key) -> None:
        del self._pending[key]
        self._known.add(key)

    @property
    def pending(self) -> int:
        return len(self._pending)
