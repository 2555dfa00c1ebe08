"""What each push-event receiver got, counted for ``/metrics``.

Every (receiver, result) pair and every receiver's check-delay histogram are counted from 0 as
soon as the receiver is configured, so ``increase()`` counts the first event like every later
one; a receiver that a reload removed is forgotten (:meth:`EventTally.retain`) and its series
leave ``/metrics``. Called on the event loop only.
"""

from __future__ import annotations

from collections.abc import Iterable

from archlag.core.histograms import Histogram
from archlag.core.snapshots import ReceiverFigures

# accepted / ignored count events; unauthorized / malformed / rate_limited count requests
EVENT_RESULTS = ("accepted", "ignored", "unauthorized", "malformed", "rate_limited")
CHECK_DELAY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


class _Counts:
    __slots__ = ("delays", "last_proven", "received")

    def __init__(self) -> None:
        self.received = dict.fromkeys(EVENT_RESULTS, 0)
        self.last_proven: float | None = None
        self.delays = Histogram(CHECK_DELAY_BUCKETS)


class EventTally:
    def __init__(self, receivers: Iterable[str] = ()) -> None:
        self._receivers: dict[str, _Counts] = {}
        self.retain(receivers)

    def retain(self, receivers: Iterable[str]) -> None:
        """Count exactly these receivers: new ones from 0, others forgotten."""
        wanted = list(receivers)
        for gone in self._receivers.keys() - set(wanted):
            del self._receivers[gone]
        for name in wanted:
            self._receivers.setdefault(name, _Counts())

    def received(self, receiver: str, result: str, count: int = 1) -> None:
        counts = self._receivers.get(receiver)
        if counts is not None and count:
            counts.received[result] += count

    def proven(self, receiver: str, at: float) -> None:
        counts = self._receivers.get(receiver)
        if counts is not None:
            counts.last_proven = at

    def checked(self, receiver: str, seconds: float) -> None:
        counts = self._receivers.get(receiver)
        if counts is not None:
            counts.delays.observe(max(seconds, 0.0))

    def snapshot(self) -> tuple[ReceiverFigures, ...]:
        return tuple(
            ReceiverFigures(name, dict(c.received), c.last_proven, c.delays.snapshot())
            for name, c in sorted(self._receivers.items())
        )
