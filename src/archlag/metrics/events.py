"""Push events received, as ordinary prometheus-client instrumentation.

Every (receiver, result) label set of the counter, and every receiver's delay histogram, is
created at zero at start, so ``increase()`` counts the first event like every later one.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# accepted / ignored count events; unauthorized / malformed / rate_limited count requests
EVENT_RESULTS = ("accepted", "ignored", "unauthorized", "malformed", "rate_limited")
CHECK_DELAY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


class EventMetrics:
    def __init__(self, registry: CollectorRegistry, receivers: Iterable[str]) -> None:
        self._received = Counter(
            "archlag_events_received_total",
            "Push events received, by result: accepted and ignored (for a repository archlag "
            "does not watch, or not a push) count events; unauthorized, malformed and "
            "rate_limited count requests",
            ["receiver", "result"],
            registry=registry,
        )
        self._last = Gauge(
            "archlag_event_last_received_timestamp_seconds",
            "When the receiver last got a request that proved the receiver's secret",
            ["receiver"],
            registry=registry,
        )
        self._delay = Histogram(
            "archlag_event_check_delay_seconds",
            "From an event's push time to the end of the check it caused",
            ["receiver"],
            buckets=CHECK_DELAY_BUCKETS,
            registry=registry,
        )
        for receiver in receivers:
            self.known(receiver)

    def known(self, receiver: str) -> None:
        """Create every label set of ``receiver`` at zero (at start, and when a reload adds it)."""
        for result in EVENT_RESULTS:
            self._received.labels(receiver, result)
        self._delay.labels(receiver)

    def received(self, receiver: str, result: str, count: int = 1) -> None:
        if count:
            self._received.labels(receiver, result).inc(count)

    def proven(self, receiver: str, at: float) -> None:
        self._last.labels(receiver).set(at)

    def checked(self, receiver: str, seconds: float) -> None:
        self._delay.labels(receiver).observe(max(seconds, 0.0))
