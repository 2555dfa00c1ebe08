"""archlag exporter health: is archlag scraped, can it reach its registries, is its data fresh."""

from __future__ import annotations

from dashgen.grafana import (
    Json,
    Layout,
    Target,
    binary_mapping,
    dashboard,
    query_variable,
    stat,
    state_panel,
    table,
    timeseries,
    unit_override,
)

JOB = 'job=~"$job"'
REG = f'{JOB}, registry=~"$registry"'
REQUESTS = f"archlag_registry_requests_total{{{REG}}}"
UP = binary_mapping("up", "down")
ALL_REQUESTS = f"sum by (registry) (rate({REQUESTS}[$__rate_interval]))"
# Without failures the failed series do not exist: `or ... * 0` shows 0 instead of no data.
FAILED = (
    "sum by (registry) (rate("
    f'archlag_registry_requests_total{{{REG}, result!="ok"}}[$__rate_interval]))'
)


def _latency(q: float) -> Target:
    return Target(
        f"histogram_quantile({q}, sum by (registry, le) (rate("
        f"archlag_registry_request_duration_seconds_bucket{{{REG}}}[$__rate_interval])))",
        f"{{{{registry}}}} p{round(q * 100)}",
    )


def build() -> Json:
    layout = Layout()
    layout.add(
        stat(
            "Exporter targets",
            "Whether Prometheus' last scrape of each archlag target succeeded (the up series "
            "of the selected job).",
            Target(f"up{{{JOB}}}", "{{instance}}"),
            mappings=UP,
            text_mode="value_and_name",
        ),
        stat(
            "Registries",
            "1 if the latest poll of every watch on the registry succeeded.",
            Target(f"archlag_registry_up{{{REG}}}", "{{registry}}"),
            mappings=UP,
            text_mode="value_and_name",
            width=12,
        ),
        stat(
            "archlag version",
            "Version of each running archlag (archlag_build_info).",
            Target(f"archlag_build_info{{{JOB}}}", "{{version}}"),
            text_mode="name",
        ),
    )
    layout.add(
        timeseries(
            "Registry requests by result",
            "Requests per second to each registry by result: ok, not_found, unauthorized, "
            "rate_limited, server_error, timeout or error.",
            [
                Target(
                    f"sum by (registry, result) (rate({REQUESTS}[$__rate_interval]))",
                    "{{registry}} {{result}}",
                )
            ],
            unit="reqps",
        ),
        timeseries(
            "Failed request ratio",
            "Share of requests to each registry whose result was not ok. A steady not_found "
            "share can be normal (tags that do not exist yet); unauthorized and rate_limited "
            "need action.",
            [Target(f"({FAILED} or {ALL_REQUESTS} * 0) / {ALL_REQUESTS}", "{{registry}}")],
            unit="percentunit",
        ),
    )
    layout.add(
        timeseries(
            "Registry request latency",
            "Median, 90th and 99th percentile duration of requests to each registry.",
            [_latency(0.5), _latency(0.9), _latency(0.99)],
            unit="s",
        ),
        state_panel(
            "state-timeline",
            "Registry up over time",
            "Each registry's archlag_registry_up over the time range: red while its polls fail.",
            Target(f"archlag_registry_up{{{REG}}}", "{{registry}}"),
            UP,
        ),
    )
    layout.add(
        timeseries(
            "Time since last successful poll",
            "Seconds since archlag last polled each repository without errors. It should stay "
            "below the poll interval plus the scrape interval; ArchlagStalePolling fires above "
            "three intervals (at least 5 minutes).",
            [
                Target(
                    f"time() - archlag_repository_last_poll_success_timestamp_seconds{{{REG}}}",
                    "{{registry}}/{{repository}}",
                )
            ],
            unit="s",
        ),
        table(
            "Poll freshness",
            "Per repository: when it was last polled successfully, how long ago that is, and "
            "its poll interval.",
            [
                Target(f"archlag_repository_last_poll_success_timestamp_seconds{{{REG}}} * 1000"),
                Target(f"time() - archlag_repository_last_poll_success_timestamp_seconds{{{REG}}}"),
                Target(f"archlag_watch_poll_interval_seconds{{{REG}}}"),
            ],
            unit="s",
            rename={"Value #A": "last success", "Value #B": "age", "Value #C": "interval"},
            overrides=[unit_override("last success", "dateTimeAsIso")],
            sort_by="age",
        ),
    )
    layout.add(
        timeseries(
            "Scrape duration",
            "How long Prometheus takes to scrape each archlag target. archlag builds its "
            "metrics from memory, so this should stay far below the scrape interval.",
            [Target(f"scrape_duration_seconds{{{JOB}}}", "{{instance}}")],
            unit="s",
        ),
        timeseries(
            "Tracked tags and platforms",
            "How many tags and tag/platform pairs archlag exports: the cardinality its tag "
            "limits keep bounded.",
            [
                Target(f"count(archlag_tag_complete{{{REG}}})", "tags"),
                Target(f"count(archlag_tag_platform_available{{{REG}}})", "tag/platform pairs"),
            ],
            unit="short",
        ),
    )
    return dashboard(
        uid="archlag-exporter-health",
        title="archlag exporter health",
        description="Whether archlag is scraped, reaches its registries and polls on time.",
        variables=[
            query_variable("job", "Job", "archlag_build_info", "job"),
            query_variable("registry", "Registry", 'archlag_registry_up{job=~"$job"}', "registry"),
        ],
        layout=layout,
    )
