"""archlag's own registry requests, counted for ``/metrics``: a :class:`RequestObserver`.

Every (method, result) pair of a registry is counted from 0 once a client for it exists, so the
first timeout or 429 counts for ``increase()`` like every later one. A registry (or push-time
API) that no client uses any more is forgotten (:meth:`RequestTally.retain`): its series leave
``/metrics``. Called on the event loop only.
"""

from __future__ import annotations

from collections.abc import Collection

from archlag.core.histograms import Histogram
from archlag.core.outcomes import RESULTS
from archlag.core.snapshots import RequestFigures

METHODS = ("GET", "HEAD", "POST", "OTHER")
REQUEST_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _Counts:
    __slots__ = ("durations", "requests")

    def __init__(self) -> None:
        self.requests = {(m, r): 0 for m in METHODS for r in RESULTS}
        self.durations = Histogram(REQUEST_DURATION_BUCKETS)


class RequestTally:
    """Counts and times every registry request, per registry name."""

    def __init__(self) -> None:
        self._registries: dict[str, _Counts] = {}

    def known(self, registry: str) -> None:
        """Count ``registry``'s requests from 0 (a client for it was made)."""
        self._registries.setdefault(registry, _Counts())

    def retain(self, registries: Collection[str]) -> None:
        """Forget every registry but these (the ones clients still use)."""
        for gone in self._registries.keys() - set(registries):
            del self._registries[gone]

    def request_finished(self, registry: str, method: str, result: str, seconds: float) -> None:
        counts = self._registries.get(registry)
        if counts is None:  # a retired client finishing a request: not shown any more
            return
        key = (method if method in METHODS else "OTHER", result if result in RESULTS else "error")
        counts.requests[key] += 1
        counts.durations.observe(seconds)

    def snapshot(self) -> tuple[RequestFigures, ...]:
        return tuple(
            RequestFigures(name, dict(counts.requests), counts.durations.snapshot())
            for name, counts in sorted(self._registries.items())
        )
