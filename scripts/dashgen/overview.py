"""archlag overview: which repositories publish their platforms far apart, and what is late now."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as sdk

from dashgen.dashboard import dashboard, repository_variables
from dashgen.grafana import (
    GREEN,
    ORANGE,
    RED,
    Layout,
    PanelBuilder,
    Query,
    steps,
    unit_override,
)
from dashgen.panels import heatmap, stat, table, timeseries
from dashgen.promql import PLATFORM_KEYS, REPO_KEYS, TAG_KEYS, Selectors, dedup, on

REPO = Selectors("job", "instance", "registry", "repository")
SPREAD = "archlag_tag_publication_spread_seconds"
MISSING = dedup(REPO("archlag:tag_platform_missing_seconds"), PLATFORM_KEYS)
AVAILABLE = dedup(REPO("archlag_tag_platform_available"), PLATFORM_KEYS)
PLATFORM_FIRST_SEEN = dedup(
    REPO("archlag_tag_platform_first_seen_timestamp_seconds"), PLATFORM_KEYS
)
COMPLETE = dedup(REPO("archlag_tag_complete"), TAG_KEYS)

REGRESSED = f"{AVAILABLE} == 0 and {on(PLATFORM_KEYS)} {PLATFORM_FIRST_SEEN}"
LATE = f"{dedup(REPO('archlag_tag_platform_late'), PLATFORM_KEYS)} == 1"
# Publications completed per repository over the dashboard's time range.
COMPLETIONS = dedup(f"increase({REPO(f'{SPREAD}_count')}[$__range])", REPO_KEYS)
# The last platform's first-seen minus the tag's, within each process, then one per tag.
LAST_PLATFORM_AFTER = dedup(
    f"max by (job, instance, registry, repository, tag) "
    f"({REPO('archlag_tag_platform_first_seen_timestamp_seconds')})"
    f" - on (job, instance, registry, repository, tag)"
    f" {REPO('archlag_tag_first_seen_timestamp_seconds')}",
    TAG_KEYS,
)
# Alerts of several replicas (or rules evaluated per instance) count once.
ALERT_KEYS = ("alertname", "alertstate", "severity", *PLATFORM_KEYS, "status")
FIRING = dedup('ALERTS{alertname=~"Archlag.*", alertstate="firing"}', ALERT_KEYS)

WARN_FROM_ONE = steps((None, GREEN), (1, ORANGE))
# What discovery found running: one row per image tag and platform it runs on.
RUNNING_KEYS = PLATFORM_KEYS
RUNNING_STATE = dedup(REPO("archlag_running_update_state") + " == 1", (*RUNNING_KEYS, "state"))
RUNNING_CONTAINERS = dedup(
    "sum by (job, instance, registry, repository, tag, platform) ("
    + REPO("archlag_running_containers")
    + ")",
    RUNNING_KEYS,
)
WAITING_SINCE = dedup(REPO("archlag_running_update_waiting_since_timestamp_seconds"), RUNNING_KEYS)


def _spread_quantile(q: float) -> str:
    buckets = dedup(f"increase({REPO(f'{SPREAD}_bucket')}[$__range])", (*REPO_KEYS, "le"))
    return f"histogram_quantile({q}, {buckets}) >= 0"


def _top_row() -> list[PanelBuilder]:
    return [
        stat(
            "Incomplete tags",
            "Tags whose current publication lacks at least one expected platform.",
            Query(f"count({COMPLETE} == 0) or vector(0)"),
            width=4,
            thresholds=WARN_FROM_ONE,
        ),
        stat(
            "Missing platforms",
            "Expected platforms not yet seen in their tag's current publication, whether or "
            "not the watch's stall_after has passed.",
            Query(f"count({MISSING}) or vector(0)"),
            width=4,
            thresholds=WARN_FROM_ONE,
        ),
        stat(
            "Late platforms",
            "Missing platforms past their deadline, which follows from how long each usually "
            "takes in its repository (or the watch's stall_after while too few releases were "
            "measured): what ArchlagPlatformLate pages on.",
            Query(f"count({LATE}) or vector(0)"),
            width=4,
            thresholds=steps((None, GREEN), (1, RED)),
        ),
        stat(
            "Regressed platforms",
            "Platforms that were seen in their tag's current publication and then vanished.",
            Query(f"count({REGRESSED}) or vector(0)"),
            width=4,
            thresholds=steps((None, GREEN), (1, RED)),
        ),
        stat(
            "Completed publications",
            "Publications that archlag saw begin and that got all expected platforms in the "
            "dashboard's time range.",
            Query(f"round(sum({COMPLETIONS})) or vector(0)"),
            width=4,
        ),
        stat(
            "Firing archlag alerts",
            "archlag alerts currently firing in this Prometheus (its ALERTS series), each "
            "counted once however many archlag replicas report it; see the alerts table below.",
            Query(f"count({FIRING}) or vector(0)"),
            width=4,
            thresholds=WARN_FROM_ONE,
        ),
    ]


def build() -> sdk.Dashboard:
    layout = Layout()
    layout.add(*_top_row())
    layout.add(
        table(
            "Repositories ranked by spread",
            "Median and 90th percentile of the time from a publication's first platform to its "
            "last expected platform, over the publications completed in the dashboard's time "
            "range. Repositories without completions in that range are not listed.",
            [
                Query(_spread_quantile(0.5)),
                Query(_spread_quantile(0.9)),
                Query(f"round({COMPLETIONS}) > 0"),
            ],
            unit="s",
            rename={
                "Value #A": "p50 spread",
                "Value #B": "p90 spread",
                "Value #C": "publications",
            },
            overrides=[unit_override("publications", "none")],
            sort_by="p90 spread",
        ),
        heatmap(
            "Publication spread over time",
            "How many publications completed with which spread (first to last expected "
            "platform), per hour, across the selected repositories.",
            Query(
                "sum by (le) ("
                + dedup(
                    f"increase({REPO(f'{SPREAD}_bucket')}[$__rate_interval])", (*REPO_KEYS, "le")
                )
                + ")"
            ),
        ),
    )
    layout.add(
        table(
            "Incomplete tags: missing platforms",
            "Each expected platform not yet seen in its tag's current publication, with the "
            "time since the tag's first platform appeared.",
            [Query(MISSING)],
            unit="s",
            rename={"Value": "missing for"},
            sort_by="missing for",
        ),
        table(
            "Regressed platforms",
            "Platforms that vanished from their tag's current publication, with the time they "
            "had first been seen.",
            [Query(f"{PLATFORM_FIRST_SEEN} * 1000 and {on(PLATFORM_KEYS)} ({AVAILABLE} == 0)")],
            unit="dateTimeAsIso",
            rename={"Value": "first seen"},
            sort_by="first seen",
        ),
    )
    complete_tag = f"{on(TAG_KEYS)} ({COMPLETE} == 1)"
    layout.add(
        timeseries(
            "Completed publications per hour",
            "Publications that got all their expected platforms, per repository and hour.",
            [
                Query(
                    "sum by (registry, repository) ("
                    + dedup(f"increase({REPO(f'{SPREAD}_count')}[$__rate_interval])", REPO_KEYS)
                    + ")",
                    "{{registry}}/{{repository}}",
                )
            ],
            unit="none",
            bars=True,
            interval="1h",
        ),
        table(
            "Complete tags, newest first",
            "Tags whose current publication has every expected platform: when its first "
            "platform appeared, and how long after that the last platform seen so far appeared.",
            [
                Query(
                    dedup(REPO("archlag_tag_first_seen_timestamp_seconds"), TAG_KEYS)
                    + f" * 1000 and {complete_tag}"
                ),
                Query(f"{LAST_PLATFORM_AFTER} and {complete_tag}"),
            ],
            unit="s",
            rename={"Value #A": "first seen", "Value #B": "last platform after"},
            overrides=[unit_override("first seen", "dateTimeAsIso")],
            sort_by="first seen",
        ),
    )
    layout.add(
        timeseries(
            "Platform regressions",
            "Platforms that vanished from a live publication, per repository, platform and hour.",
            [
                Query(
                    "sum by (registry, repository, platform) ("
                    + dedup(
                        f"increase({REPO('archlag_platform_regressions_total')}[$__rate_interval])",
                        (*REPO_KEYS, "platform"),
                    )
                    + ")",
                    "{{registry}}/{{repository}} {{platform}}",
                )
            ],
            unit="none",
            bars=True,
            interval="1h",
        ),
        table(
            "archlag alerts",
            "Pending and firing alerts from archlag's rule file in this Prometheus, one row per "
            "alert however many archlag replicas report it.",
            [Query(dedup('ALERTS{alertname=~"Archlag.*"}', ALERT_KEYS))],
            unit="none",
            hide=["Value"],
        ),
    )
    layout.add(
        table(
            "What you run: is the next release out for your platform?",
            "Images that discovery found running, one row per tag and platform they run on: "
            "the update state (current, available: a newer release is out for this platform, "
            "waiting: every newer release lacks it, unknown), the containers running it, and "
            "since when a waiting one waits.",
            [
                Query(RUNNING_STATE),
                Query(RUNNING_CONTAINERS),
                Query(f"{WAITING_SINCE} * 1000"),
            ],
            unit="none",
            hide=["Value #A"],
            rename={"state": "update", "Value #B": "containers", "Value #C": "waiting since"},
            overrides=[unit_override("waiting since", "dateTimeAsIso")],
            sort_by="waiting since",
            width=24,
        ),
    )
    return dashboard(
        uid="archlag-overview",
        title="archlag overview",
        description="Multi-arch publication lag across every watched repository.",
        variables=repository_variables(),
        layout=layout,
    )
