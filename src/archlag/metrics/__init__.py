"""Prometheus metrics, built from snapshots of the state; this package knows nothing of
registries or SQLite.

- :mod:`~archlag.metrics.exposition`: :class:`Exposition`, the rendering served to scrapers;
- :mod:`~archlag.metrics.repository`: one repository's tag, histogram and watch families;
- :mod:`~archlag.metrics.live`: the small families rendered at every scrape;
- :mod:`~archlag.metrics.hold`: new counter and histogram series shown at zero first;
- :mod:`~archlag.metrics.text`: the text and OpenMetrics writers;
- :mod:`~archlag.metrics.requests`: archlag's own registry requests (prometheus-client).
"""

from archlag.metrics.exposition import OPENMETRICS, TEXT, Exposition, Rendering, render_snapshot
from archlag.metrics.hold import NewSeriesHold
from archlag.metrics.live import live_families
from archlag.metrics.requests import RequestMetrics

__all__ = [
    "OPENMETRICS",
    "TEXT",
    "Exposition",
    "NewSeriesHold",
    "Rendering",
    "RequestMetrics",
    "live_families",
    "render_snapshot",
]
