"""archlag's own traffic: its requests to registries and the push events it received, rendered
at every scrape from the live snapshot (series of a registry or receiver that is gone are not
in it)."""

from __future__ import annotations

from collections.abc import Sequence

from archlag.core.snapshots import ReceiverFigures, RequestFigures
from archlag.metrics import text
from archlag.metrics.text import Family, Spec, label_set, with_label

REQUESTS = Spec(
    "archlag_registry_requests", "counter", "HTTP requests to registries, by method and result"
)
REQUEST_DURATION = Spec(
    "archlag_registry_request_duration_seconds",
    "histogram",
    "Duration of HTTP requests to registries",
)
EVENTS = Spec(
    "archlag_events_received",
    "counter",
    "Push events received, by result: accepted and ignored (for a repository archlag does not "
    "watch, or not a push) count events; unauthorized, malformed and rate_limited count requests",
)
LAST_EVENT = Spec(
    "archlag_event_last_received_timestamp_seconds",
    "gauge",
    "When the receiver last got a request that proved the receiver's secret",
)
CHECK_DELAY = Spec(
    "archlag_event_check_delay_seconds",
    "histogram",
    "From an event's push time to the end of the check it caused",
)


def traffic_families(
    requests: Sequence[RequestFigures], receivers: Sequence[ReceiverFigures]
) -> list[Family]:
    counted, durations = Family(REQUESTS), Family(REQUEST_DURATION)
    for figures in requests:
        labels = label_set(registry=figures.registry)
        for (method, result), count in figures.requests.items():
            request = with_label(with_label(labels, "method", method), "result", result)
            counted.counter(request, count)
        text.histogram(durations.lines, REQUEST_DURATION.name, labels, figures.durations, None)
    events, last, delays = Family(EVENTS), Family(LAST_EVENT), Family(CHECK_DELAY)
    for receiver in receivers:
        labels = label_set(receiver=receiver.receiver)
        for result, count in receiver.received.items():
            events.counter(with_label(labels, "result", result), count)
        if receiver.last_proven is not None:
            last.gauge(labels, receiver.last_proven)
        text.histogram(delays.lines, CHECK_DELAY.name, labels, receiver.check_delays, None)
    return [counted, durations, events, last, delays]
