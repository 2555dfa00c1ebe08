"""Prometheus metrics, built from snapshots (:mod:`archlag.core.snapshots`) and nothing else:
this package knows nothing of registries, pollers or SQLite.

- :mod:`~archlag.metrics.exposition`: :class:`Exposition`, the rendering served to scrapers;
- :mod:`~archlag.metrics.repository`: one repository's tag, histogram and watch families;
- :mod:`~archlag.metrics.live`: the small families rendered at every scrape;
- :mod:`~archlag.metrics.hold`: new counter and histogram series shown at zero first;
- :mod:`~archlag.metrics.text`: the text and OpenMetrics writers;
- :mod:`~archlag.metrics.traffic`: archlag's own registry requests and push events received.
"""

from archlag.metrics.exposition import (
    OPENMETRICS,
    TEXT,
    Exposition,
    Rendering,
    RenderSchedule,
    render_snapshot,
)
from archlag.metrics.hold import NewSeriesHold
from archlag.metrics.live import live_families

__all__ = [
    "OPENMETRICS",
    "TEXT",
    "Exposition",
    "NewSeriesHold",
    "RenderSchedule",
    "Rendering",
    "live_families",
    "render_snapshot",
]
