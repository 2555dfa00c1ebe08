"""archlag overview: which repositories publish their platforms far apart, and what is late now."""

from __future__ import annotations

from dashgen.grafana import (
    GREEN,
    ORANGE,
    RED,
    Json,
    Layout,
    Target,
    dashboard,
    heatmap,
    repository_variables,
    stat,
    steps,
    table,
    timeseries,
    unit_override,
)

REPO = 'job=~"$job", registry=~"$registry", repository=~"$repository"'
TAG_KEYS = "job, instance, registry, repository, tag"
PLATFORM_KEYS = f"{TAG_KEYS}, platform"
SPREAD_RULE = "job_registry_repository:archlag_tag_publication_spread_seconds"
COMPLETIONS_RULE = f"{SPREAD_RULE}_count:increase1d"

REGRESSED = (
    f"archlag_tag_platform_available{{{REPO}}} == 0"
    f" and on ({PLATFORM_KEYS}) archlag_tag_platform_first_seen_timestamp_seconds{{{REPO}}}"
)
STALLED = (
    f"archlag:tag_platform_missing_seconds{{{REPO}}}"
    " > on (job, instance, registry, repository) group_left ()"
    f" archlag_watch_stall_threshold_seconds{{{REPO}}}"
)
COMPLETE_TAG = f"on ({TAG_KEYS}) (archlag_tag_complete{{{REPO}}} == 1)"

WARN_FROM_ONE = steps((None, GREEN), (1, ORANGE))


def build() -> Json:
    layout = Layout()
    layout.add(
        stat(
            "Incomplete tags",
            "Tags whose current publication lacks at least one expected platform.",
            Target(f"count(archlag_tag_complete{{{REPO}}} == 0) or vector(0)"),
            width=4,
            thresholds=WARN_FROM_ONE,
        ),
        stat(
            "Missing platforms",
            "Expected platforms not yet seen in their tag's current publication, whether or "
            "not the watch's stall_after has passed.",
            Target(f"count(archlag:tag_platform_missing_seconds{{{REPO}}}) or vector(0)"),
            width=4,
            thresholds=WARN_FROM_ONE,
        ),
        stat(
            "Stalled platforms",
            "Missing platforms whose tag appeared longer ago than the watch's stall_after: "
            "what ArchlagPlatformMissing alerts on.",
            Target(f"count({STALLED}) or vector(0)"),
            width=4,
            thresholds=steps((None, GREEN), (1, RED)),
        ),
        stat(
            "Regressed platforms",
            "Platforms that were seen in their tag's current publication and then vanished.",
            Target(f"count({REGRESSED}) or vector(0)"),
            width=4,
            thresholds=steps((None, GREEN), (1, RED)),
        ),
        stat(
            "Completed publications (24h)",
            "Publications that archlag saw begin and that got all expected platforms in the "
            "last 24 hours.",
            Target(f"round(sum({COMPLETIONS_RULE}{{{REPO}}})) or vector(0)"),
            width=4,
        ),
        stat(
            "Firing archlag alerts",
            "archlag alerts currently firing in this Prometheus (its ALERTS series); see the "
            "alerts table below.",
            Target('count(ALERTS{alertname=~"Archlag.*", alertstate="firing"}) or vector(0)'),
            width=4,
            thresholds=WARN_FROM_ONE,
        ),
    )
    layout.add(
        table(
            "Repositories ranked by spread (24h)",
            "Median and 90th percentile of the time from a publication's first platform to its "
            "last expected platform, over the publications completed in the last 24 hours. "
            "Repositories without completions in that window are not listed.",
            [
                Target(f"{SPREAD_RULE}:p50_1d{{{REPO}}} >= 0"),
                Target(f"{SPREAD_RULE}:p90_1d{{{REPO}}} >= 0"),
                Target(f"round({COMPLETIONS_RULE}{{{REPO}}})"),
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
            Target(
                "sum by (le) (increase("
                f"archlag_tag_publication_spread_seconds_bucket{{{REPO}}}[$__rate_interval]))"
            ),
        ),
    )
    layout.add(
        table(
            "Incomplete tags: missing platforms",
            "Each expected platform not yet seen in its tag's current publication, with the "
            "time since the tag's first platform appeared.",
            [Target(f"archlag:tag_platform_missing_seconds{{{REPO}}}")],
            unit="s",
            rename={"Value": "missing for"},
            sort_by="missing for",
        ),
        table(
            "Regressed platforms",
            "Platforms that vanished from their tag's current publication, with the time they "
            "had first been seen.",
            [
                Target(
                    f"archlag_tag_platform_first_seen_timestamp_seconds{{{REPO}}} * 1000"
                    f" and on ({PLATFORM_KEYS}) (archlag_tag_platform_available{{{REPO}}} == 0)"
                )
            ],
            unit="dateTimeAsIso",
            rename={"Value": "first seen"},
            sort_by="first seen",
        ),
    )
    layout.add(
        timeseries(
            "Completed publications",
            "Publications that got all their expected platforms, per repository and hour.",
            [
                Target(
                    "sum by (registry, repository) (increase("
                    f"archlag_tag_publication_spread_seconds_count{{{REPO}}}[$__rate_interval]))",
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
                Target(
                    f"archlag_tag_first_seen_timestamp_seconds{{{REPO}}} * 1000 and {COMPLETE_TAG}"
                ),
                Target(
                    f"max by ({TAG_KEYS}) (archlag_tag_platform_first_seen_timestamp_seconds"
                    f"{{{REPO}}}) - on ({TAG_KEYS}) archlag_tag_first_seen_timestamp_seconds"
                    f"{{{REPO}}} and {COMPLETE_TAG}"
                ),
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
                Target(
                    "sum by (registry, repository, platform) (increase("
                    f"archlag_platform_regressions_total{{{REPO}}}[$__rate_interval]))",
                    "{{registry}}/{{repository}} {{platform}}",
                )
            ],
            unit="none",
            bars=True,
            interval="1h",
        ),
        table(
            "archlag alerts",
            "Pending and firing alerts from archlag's rule file in this Prometheus.",
            [Target('ALERTS{alertname=~"Archlag.*"}')],
            unit="none",
            hide=["Value"],
        ),
    )
    return dashboard(
        uid="archlag-overview",
        title="archlag overview",
        description="Multi-arch publication lag across every watched repository.",
        variables=[
            *repository_variables(),
        ],
        layout=layout,
    )
