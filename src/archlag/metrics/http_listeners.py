"""archlag's own HTTP surface, rendered at each scrape: each listener's connections, what it
shed and refused, and whether ``--web.config.file`` was last read successfully."""

from __future__ import annotations

from archlag.core.snapshots import LiveSnapshot
from archlag.metrics.text import Family, Spec, label_set, with_label

SHED_REASONS = ("listener_full", "client_full")
OPEN = Spec(
    "archlag_http_open_connections",
    "gauge",
    "Connections open on the listener (main, or events for events_listen)",
)
SHED = Spec(
    "archlag_http_connections_shed",
    "counter",
    "Connections closed as soon as accepted, over --web.max-connections (reason=listener_full) "
    "or --web.max-connections-per-client (client_full)",
)
UNAUTHORIZED = Spec(
    "archlag_http_unauthorized_requests",
    "counter",
    "Requests answered 401 (or 503) for want of valid Basic credentials",
)
WEB_CONFIG_OK = Spec(
    "archlag_web_config_last_reload_successful",
    "gauge",
    "1 if --web.config.file and its TLS files were last read successfully, 0 if a changed file "
    "was refused and the running web configuration kept",
)
WEB_CONFIG_AT = Spec(
    "archlag_web_config_last_reload_success_timestamp_seconds",
    "gauge",
    "When --web.config.file was last read successfully (at start, or after a change)",
)


def listener_families(live: LiveSnapshot) -> list[Family]:
    opened, shed, refused = Family(OPEN), Family(SHED), Family(UNAUTHORIZED)
    for figures in live.listeners:
        labels = label_set(listener=figures.listener)
        opened.gauge(labels, figures.open_connections)
        for reason in SHED_REASONS:
            shed.counter(with_label(labels, "reason", reason), figures.shed.get(reason, 0))
        refused.counter(labels, figures.unauthorized)
    families = [opened, shed, refused]
    if live.web_config_successful is not None:
        successful, at = Family(WEB_CONFIG_OK), Family(WEB_CONFIG_AT)
        successful.gauge("", 1 if live.web_config_successful else 0)
        if live.web_config_success_time is not None:
            at.gauge("", live.web_config_success_time)
        families += [successful, at]
    return families
