"""archlag repository: every tag and platform of one repository, and which platform is late."""

from __future__ import annotations

from dashgen.grafana import (
    GREEN,
    ORANGE,
    Json,
    Layout,
    Target,
    bargauge,
    binary_mapping,
    dashboard,
    query_variable,
    repository_variables,
    stat,
    state_panel,
    steps,
    table,
    unit_override,
)

REPO = 'job=~"$job", registry=~"$registry", repository=~"$repository"'
TAG = f'{REPO}, tag=~"$tag"'
TAG_KEYS = "job, instance, registry, repository, tag"
DELAY = "archlag_platform_publication_delay_seconds"
PRESENT = binary_mapping("present", "missing")


def _delay_quantile(q: float) -> str:
    return (
        f"histogram_quantile({q}, sum by (platform, le) "
        f"(increase({DELAY}_bucket{{{REPO}}}[$__range])))"
    )


def build() -> Json:
    layout = Layout()
    layout.add(
        stat(
            "Stall threshold",
            "The watch's stall_after: how long after a tag's first platform a missing "
            "platform alerts.",
            Target(f"archlag_watch_stall_threshold_seconds{{{REPO}}}"),
            unit="s",
        ),
        stat(
            "Poll interval",
            "How often archlag polls this repository (the watch's interval).",
            Target(f"archlag_watch_poll_interval_seconds{{{REPO}}}"),
            unit="s",
        ),
        stat(
            "Incomplete tags",
            "Selected tags whose current publication lacks at least one expected platform.",
            Target(f"count(archlag_tag_complete{{{TAG}}} == 0) or vector(0)"),
            thresholds=steps((None, GREEN), (1, ORANGE)),
        ),
        stat(
            "p90 spread (24h)",
            "90th percentile of first-to-last-platform time over the publications completed "
            "in the last 24 hours (from the recording rule; empty without completions).",
            Target(
                "job_registry_repository:archlag_tag_publication_spread_seconds:p90_1d"
                f"{{{REPO}}} >= 0"
            ),
            unit="s",
        ),
    )
    layout.add(
        table(
            "Availability matrix",
            "One row per tag, one column per platform: present, or missing (expected but not "
            "seen yet, or seen and vanished). Platforms that a tag never had and was not "
            "expected to have are blank.",
            [Target(f"archlag_tag_platform_available{{{TAG}}}")],
            unit="none",
            mappings=PRESENT,
            matrix=("tag", "platform"),
            height=10,
        ),
        state_panel(
            "status-history",
            "Availability over time",
            "Each tag and platform over the time range: green while present, red while "
            "missing. Gaps are times the tag was not tracked.",
            Target(f"archlag_tag_platform_available{{{TAG}}}", "{{tag}} {{platform}}"),
            PRESENT,
            height=10,
        ),
    )
    layout.add(
        bargauge(
            "Delay after the first platform, by platform",
            "For publications completed in the time range: median (p50) and 90th percentile "
            "(p90) of how long after the publication's first platform each platform appeared. "
            "The platform with the longest bar is usually the last one.",
            [
                Target(_delay_quantile(0.5), "{{platform}} p50"),
                Target(_delay_quantile(0.9), "{{platform}} p90"),
            ],
            unit="s",
        ),
        table(
            "Delay by platform",
            "Per platform, over the publications completed in the time range: p50, p90 and "
            "mean delay after the first platform, and how many publications that covers.",
            [
                Target(_delay_quantile(0.5)),
                Target(_delay_quantile(0.9)),
                Target(
                    f"sum by (platform) (increase({DELAY}_sum{{{REPO}}}[$__range]))"
                    f" / sum by (platform) (increase({DELAY}_count{{{REPO}}}[$__range]))"
                ),
                Target(f"round(sum by (platform) (increase({DELAY}_count{{{REPO}}}[$__range])))"),
            ],
            unit="s",
            rename={
                "Value #A": "p50",
                "Value #B": "p90",
                "Value #C": "mean",
                "Value #D": "publications",
            },
            overrides=[unit_override("publications", "none")],
            sort_by="p90",
        ),
    )
    layout.add(
        state_panel(
            "state-timeline",
            "Publication timeline",
            "One band per tag, starting when archlag first saw it: orange while some expected "
            "platform is missing, green once complete.",
            Target(f"archlag_tag_complete{{{TAG}}}", "{{tag}}"),
            binary_mapping("complete", "incomplete", zero_color=ORANGE),
            width=24,
        ),
    )
    layout.add(
        table(
            "First seen, by platform",
            "When each platform of each tag's current publication was first seen.",
            [Target(f"archlag_tag_platform_first_seen_timestamp_seconds{{{TAG}}} * 1000")],
            unit="dateTimeAsIso",
            matrix=("tag", "platform"),
        ),
        table(
            "Delay after the first platform, by tag",
            "How long after the tag's first platform each platform appeared; 0 for the first one.",
            [
                Target(
                    f"archlag_tag_platform_first_seen_timestamp_seconds{{{TAG}}}"
                    f" - on ({TAG_KEYS}) group_left ()"
                    f" archlag_tag_first_seen_timestamp_seconds{{{TAG}}}"
                )
            ],
            unit="s",
            matrix=("tag", "platform"),
        ),
    )
    layout.add(
        table(
            "Tags",
            "Each selected tag: when its current publication's first platform appeared, and "
            "whether every expected platform is there.",
            [
                Target(f"archlag_tag_first_seen_timestamp_seconds{{{TAG}}} * 1000"),
                Target(f"archlag_tag_complete{{{TAG}}}"),
            ],
            unit="dateTimeAsIso",
            rename={"Value #A": "first seen", "Value #B": "complete"},
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "complete"},
                    "properties": [
                        {"id": "unit", "value": "none"},
                        {"id": "mappings", "value": binary_mapping("yes", "no")},
                        {"id": "custom.cellOptions", "value": {"type": "color-text"}},
                        {"id": "thresholds", "value": steps((None, ORANGE), (1, GREEN))},
                        {"id": "color", "value": {"mode": "thresholds"}},
                    ],
                }
            ],
            sort_by="first seen",
            width=24,
        ),
    )
    return dashboard(
        uid="archlag-repository",
        title="archlag repository",
        description="Tags and platforms of one watched repository: availability and delays.",
        variables=[
            *repository_variables(multi=False),
            query_variable("tag", "Tag", f"archlag_tag_complete{{{REPO}}}", "tag"),
        ],
        layout=layout,
        time_from="now-7d",
    )
