"""``/metrics`` text parsed back the way Prometheus reads it, with prometheus-client's
``get_sample_value`` to ask for one sample."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families

from archlag.core.snapshots import LiveSnapshot, Snapshot
from archlag.metrics import render_snapshot


class Scrape:
    """Exposition text parsed back, with a get_sample_value like prometheus-client's."""

    def __init__(self, text: str, openmetrics: bool = False) -> None:
        self.text = text
        parse = parse_openmetrics if openmetrics else text_string_to_metric_families
        self.families = list(parse(text))
        self.samples = {
            (s.name, frozenset(s.labels.items())): s.value for f in self.families for s in f.samples
        }

    def get_sample_value(self, name: str, labels: dict[str, str]) -> float | None:
        return self.samples.get((name, frozenset(labels.items())))


class LiveScrape:
    """What ``/metrics`` shows of a live snapshot, rendered again at every question."""

    def __init__(self, live: Callable[[], LiveSnapshot]) -> None:
        self._live = live

    def get_sample_value(self, name: str, labels: dict[str, str]) -> float | None:
        return Scrape(render_snapshot(Snapshot(()), live=self._live())).get_sample_value(
            name, labels
        )
