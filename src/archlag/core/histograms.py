"""Histograms of observed seconds: bucket counts and a sum, and their frozen snapshots.

A :class:`Histogram` is rebuilt from the stored observations when a watch starts and grows by
each new observation; :meth:`Histogram.snapshot` is what a scrape renders.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HistogramSnapshot:
    bounds: tuple[float, ...]  # upper bounds, without +Inf
    cumulative: tuple[int, ...]  # one per bound, then +Inf
    total: float

    @property
    def count(self) -> int:
        return self.cumulative[-1]

    @classmethod
    def empty(cls, bounds: tuple[float, ...]) -> HistogramSnapshot:
        return cls(bounds, (0,) * (len(bounds) + 1), 0.0)


class Histogram:
    """Bucket counts and sum of observations (mutable; owned by one watch's state)."""

    __slots__ = ("_bounds", "_counts", "_sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self._counts = [0] * (len(bounds) + 1)
        self._sum = 0.0

    def observe(self, value: float) -> None:
        self._counts[bisect.bisect_left(self._bounds, value)] += 1
        self._sum += value

    def snapshot(self) -> HistogramSnapshot:
        running, cumulative = 0, []
        for count in self._counts:
            running += count
            cumulative.append(running)
        return HistogramSnapshot(self._bounds, tuple(cumulative), self._sum)
