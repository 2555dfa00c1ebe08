"""archlag's own registry requests, as ordinary prometheus-client instrumentation.

Every (registry, method, result) label set is created at zero when a registry client is made,
so the first timeout or 429 is counted by ``increase()`` like every later one.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

from archlag.registry import RESULTS

METHODS = ("GET", "HEAD", "POST", "OTHER")
REQUEST_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class RequestMetrics:
    """Counts and times every registry request; implements the registry client's observer."""

    def __init__(self, registry: CollectorRegistry) -> None:
        # prometheus-client's _created series only add noise here. The switch is process-wide,
        # and archlag writes its own _created where it means something.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self._requests = Counter(
            "archlag_registry_requests_total",
            "HTTP requests to registries, by method and result",
            ["registry", "method", "result"],
            registry=registry,
        )
        self._duration = Histogram(
            "archlag_registry_request_duration_seconds",
            "Duration of HTTP requests to registries",
            ["registry"],
            buckets=REQUEST_DURATION_BUCKETS,
            registry=registry,
        )

    def known(self, registry: str) -> None:
        """Create every label set of ``registry`` at zero."""
        for method in METHODS:
            for result in RESULTS:
                self._requests.labels(registry, method, result)
        self._duration.labels(registry)

    def request_finished(self, registry: str, method: str, result: str, seconds: float) -> None:
        method = method if method in METHODS else "OTHER"
        result = result if result in RESULTS else "error"
        self._requests.labels(registry, method, result).inc()
        self._duration.labels(registry).observe(seconds)
