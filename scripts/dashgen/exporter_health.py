"""archlag exporter health: is every archlag process scraped, does each shard report, can it
reach its registries, and are its watches healthy and fresh."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.models import common

from dashgen.dashboard import dashboard, process_variables, query_variable
from dashgen.grafana import (
    BLUE,
    GREEN,
    ORANGE,
    RED,
    Layout,
    PanelBuilder,
    Query,
    binary_mapping,
    mapped_column,
    override,
    steps,
    unit_override,
    value_mapping,
)
from dashgen.panels import stat, state_timeline, table, timeseries
from dashgen.promql import PLATFORM_KEYS, REPO_KEYS, TAG_KEYS, Selectors, dedup

PROCESS = Selectors("job", "instance")
REG = Selectors("job", "instance", "registry")
# The shard checks look at the whole job: a shard left out of the instance selection is
# still missing.
JOB = Selectors("job")
REQUESTS = REG("archlag_registry_requests_total")
UP = binary_mapping("up", "down")
WARN_FROM_ONE = steps((None, GREEN), (1, ORANGE))
ALL_REQUESTS = f"sum by (registry) (rate({REQUESTS}[$__rate_interval]))"
# Without failures the failed series do not exist: `or ... * 0` shows 0 instead of no data.
FAILED_REQUESTS = REG("archlag_registry_requests_total", 'result!="ok"')
FAILED = f"sum by (registry) (rate({FAILED_REQUESTS}[$__rate_interval]))"
LAST_SUCCESS = dedup(REG("archlag_repository_last_poll_success_timestamp_seconds"), REPO_KEYS)
SUSPECT_LISTINGS = dedup(
    f"increase({REG('archlag_watch_suspect_listings_total')}[$__range])", REPO_KEYS
)
STATUS = value_mapping(
    ok=("ok", GREEN),
    pending=("pending", BLUE),
    not_found=("not_found", ORANGE),
    denied=("denied", RED),
    unauthorized=("unauthorized", RED),
    unreadable=("unreadable", RED),
    unreachable=("unreachable", RED),
    rate_limited=("rate_limited", RED),
    error=("error", RED),
)


def _latency(q: float) -> Query:
    return Query(
        f"histogram_quantile({q}, sum by (registry, le) (rate("
        f"{REG('archlag_registry_request_duration_seconds_bucket')}[$__rate_interval])))",
        f"{{{{registry}}}} p{round(q * 100)}",
    )


def _processes() -> list[PanelBuilder]:
    """Each archlag process: scraped, writing its state file, and which shard it is."""
    return [
        stat(
            "Exporter targets",
            "Whether Prometheus' last scrape of each archlag process (target of the selected "
            "job) succeeded.",
            Query(PROCESS("up"), "{{instance}}"),
            mappings=UP,
            text_mode=common.BigValueTextMode.VALUE_AND_NAME,
        ),
        stat(
            "State file",
            "Whether each archlag process still writes the state file at its state_file "
            "path; lost once that file was deleted or replaced under it.",
            Query(PROCESS("archlag_state_file_ok"), "{{instance}}"),
            mappings=binary_mapping("ok", "lost"),
            text_mode=common.BigValueTextMode.VALUE_AND_NAME,
        ),
        stat(
            "Registries",
            "Per registry: up while every selected archlag process that polls it reaches it, "
            "down while one cannot (connection, timeout, 5xx, 429, refused credentials).",
            Query(f"min by (job, registry) ({REG('archlag_registry_up')})", "{{registry}}"),
            mappings=UP,
            text_mode=common.BigValueTextMode.VALUE_AND_NAME,
            width=8,
        ),
        stat(
            "archlag version",
            "Each version of archlag running, with how many processes run it.",
            Query(f"count by (version) ({PROCESS('archlag_build_info')})", "{{version}}"),
            text_mode=common.BigValueTextMode.VALUE_AND_NAME,
            width=4,
        ),
    ]


def _shards_and_watches() -> list[PanelBuilder]:
    return [
        stat(
            "Missing shards",
            "How many of the shards the job's processes were started for (--total-shards) "
            "report no archlag_shard_ordinal: their repositories are not watched. Counts "
            "over the whole job, whatever the instance selection.",
            Query(
                f"max({JOB('archlag_total_shards')})"
                f' - count(count_values("shard", {JOB("archlag_shard_ordinal")}))'
            ),
            width=4,
            thresholds=steps((None, GREEN), (1, RED)),
        ),
        stat(
            "Shard totals",
            "How many different shard totals the job's processes were started with: 1, "
            "unless a resharding is under way or a process has the wrong --total-shards.",
            Query(f'count(count_values("total", {JOB("archlag_total_shards")}))'),
            width=4,
            thresholds=steps((None, GREEN), (2, RED)),
        ),
        stat(
            "Watches not ok",
            "Watches whose status is anything but ok (pending, not_found, denied, "
            "unauthorized, unreadable, unreachable, rate_limited, error); see the table below.",
            Query(
                "count("
                + dedup(REG("archlag_watch_status", 'status!="ok"'), REPO_KEYS)
                + " == 1) or vector(0)"
            ),
            width=4,
            thresholds=WARN_FROM_ONE,
        ),
        stat(
            "Failing tags",
            "Tags in view whose latest check failed, over the selected watches; the status "
            "page says why.",
            Query(f"sum({dedup(REG('archlag_watch_failing_tags'), REPO_KEYS)})"),
            width=4,
            thresholds=WARN_FROM_ONE,
        ),
        stat(
            "Ignored tags",
            "Names in the latest tag listings that are not valid tags, ignored.",
            Query(f"sum({dedup(REG('archlag_watch_ignored_tags'), REPO_KEYS)})"),
            width=4,
            thresholds=WARN_FROM_ONE,
        ),
        stat(
            "Suspect listings",
            "Tag listings in the time range that dropped every tag or more than half of them "
            "at once; nothing left the view unless the next listing agreed.",
            Query(f"round(sum({SUSPECT_LISTINGS}))"),
            width=4,
            thresholds=WARN_FROM_ONE,
        ),
    ]


def _tables() -> list[PanelBuilder]:
    return [
        table(
            "Processes",
            "Each archlag process (Prometheus instance): whether its last scrape succeeded, "
            "whether it still writes its state file, and which shard of how many it is.",
            # One row per process: by (job, instance) also drops __name__, which could keep
            # the merged rows apart.
            [
                Query(f"max by (job, instance) ({PROCESS(metric)})")
                for metric in (
                    "up",
                    "archlag_state_file_ok",
                    "archlag_shard_ordinal",
                    "archlag_total_shards",
                )
            ],
            unit="none",
            show=["instance"],
            rename={
                "Value #A": "scrape",
                "Value #B": "state file",
                "Value #C": "shard",
                "Value #D": "of shards",
            },
            overrides=[
                mapped_column("scrape", UP, thresholds=steps((None, RED), (1, GREEN))),
                mapped_column(
                    "state file",
                    binary_mapping("ok", "lost"),
                    thresholds=steps((None, RED), (1, GREEN)),
                ),
            ],
        ),
        table(
            "Watch status",
            "Each watch's current status; with two replicas that disagree, both statuses "
            "are listed.",
            [Query(dedup(REG("archlag_watch_status"), (*REPO_KEYS, "status")) + " == 1")],
            unit="none",
            hide=["Value"],
            overrides=[
                override("status", mappings=STATUS, custom__cellOptions={"type": "color-text"})
            ],
            sort_by="status",
        ),
        table(
            "Watches",
            "Per watch: its last successful poll, how long ago that is, its poll interval, "
            "tags whose latest check failed, ignored names in its latest listing, and suspect "
            "listings in the time range. Stalest first.",
            [
                Query(f"{LAST_SUCCESS} * 1000"),
                Query(f"time() - {LAST_SUCCESS}"),
                Query(dedup(REG("archlag_watch_poll_interval_seconds"), REPO_KEYS)),
                Query(dedup(REG("archlag_watch_failing_tags"), REPO_KEYS)),
                Query(dedup(REG("archlag_watch_ignored_tags"), REPO_KEYS)),
                Query(f"round({SUSPECT_LISTINGS})"),
            ],
            unit="s",
            rename={
                "Value #A": "last success",
                "Value #B": "age",
                "Value #C": "interval",
                "Value #D": "failing tags",
                "Value #E": "ignored tags",
                "Value #F": "suspect listings",
            },
            overrides=[
                unit_override("last success", "dateTimeAsIso"),
                *(unit_override(c, "none") for c in ("failing tags", "ignored tags")),
                unit_override("suspect listings", "none"),
            ],
            sort_by="age",
            width=24,
        ),
    ]


def _registries() -> list[PanelBuilder]:
    return [
        timeseries(
            "Registry requests by result",
            "Requests per second to each registry by result: ok, not_found, unauthorized, "
            "rate_limited, server_error, timeout or error. Summed over archlag processes: "
            "two HA replicas really send twice the requests.",
            [
                Query(
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
            [Query(f"({FAILED} or {ALL_REQUESTS} * 0) / {ALL_REQUESTS}", "{{registry}}")],
            unit="percentunit",
        ),
        timeseries(
            "Registry request latency",
            "Median, 90th and 99th percentile duration of requests to each registry.",
            [_latency(0.5), _latency(0.9), _latency(0.99)],
            unit="s",
        ),
        state_timeline(
            "Registry up over time",
            "Each registry's archlag_registry_up per archlag process over the time range: "
            "red while that process's polls of it fail.",
            Query(REG("archlag_registry_up"), "{{registry}} on {{instance}}"),
            UP,
        ),
        timeseries(
            "Time since last successful poll",
            "Seconds since any archlag process last polled each repository without errors. It "
            "should stay below the poll interval plus the scrape interval; ArchlagStalePolling "
            "fires above three intervals (at least 5 minutes).",
            [Query(f"time() - {LAST_SUCCESS}", "{{registry}}/{{repository}}")],
            unit="s",
        ),
        timeseries(
            "Caps hit",
            "Registry answers per hour that hit one of archlag's caps or validity checks "
            "(tag_pages, tags_per_listing, platforms_per_index, body_too_large, json_too_deep, "
            "bad_header, bad_url, bad_token), per registry and cap.",
            [
                Query(
                    "sum by (registry, limit) (increase("
                    f"{REG('archlag_registry_limits_hit_total')}[$__rate_interval]))",
                    "{{registry}} {{limit}}",
                )
            ],
            unit="none",
            bars=True,
            interval="1h",
        ),
        timeseries(
            "Scrape duration",
            "How long Prometheus takes to scrape each archlag process. archlag serves a "
            "rendering made in the background, so this should stay far below the scrape "
            "interval.",
            [Query(PROCESS("scrape_duration_seconds"), "{{instance}}")],
            unit="s",
        ),
        timeseries(
            "Tracked tags and platforms",
            "How many tags and tag/platform pairs the selected processes watch (each counted "
            "once across replicas): the cardinality the tag limits keep bounded.",
            [
                Query(f"count({dedup(REG('archlag_tag_complete'), TAG_KEYS)})", "tags"),
                Query(
                    f"count({dedup(REG('archlag_tag_platform_available'), PLATFORM_KEYS)})",
                    "tag/platform pairs",
                ),
            ],
            unit="short",
        ),
    ]


def build() -> sdk.Dashboard:
    layout = Layout()
    layout.add(*_processes())
    layout.add(*_shards_and_watches())
    layout.add(*_tables())
    layout.add(*_registries())
    return dashboard(
        uid="archlag-exporter-health",
        title="archlag exporter health",
        description="Whether every archlag process and shard is scraped, reaches its "
        "registries and polls its watches on time.",
        variables=[
            *process_variables(),
            query_variable(
                "registry",
                "Registry",
                'archlag_registry_up{job=~"$job", instance=~"$instance"}',
                "registry",
            ),
        ],
        layout=layout,
    )
