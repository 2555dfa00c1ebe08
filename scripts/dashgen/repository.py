"""archlag repository: every tag and platform of one repository, and which platform is late."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as sdk

from dashgen.dashboard import dashboard, query_variable, repository_variables
from dashgen.grafana import (
    GREEN,
    ORANGE,
    RED,
    Layout,
    Query,
    binary_mapping,
    mapped_column,
    steps,
    unit_override,
    value_mapping,
)
from dashgen.panels import bargauge, stat, state_timeline, status_history, table
from dashgen.promql import (
    PLATFORM_KEYS,
    REPO_KEYS,
    TAG_KEYS,
    Selectors,
    dedup,
    labels,
    per_instance,
)

REPO = Selectors("job", "instance", "registry", "repository")
TAG = Selectors("job", "instance", "registry", "repository", "tag")
DELAY = "archlag_platform_publication_delay_seconds"
EXPECTED = "archlag_platform_expected_delay_seconds"
FIRST_SEEN = "archlag_tag_platform_first_seen_timestamp_seconds"
PRESENT = binary_mapping("present", "missing")
LATE = value_mapping(**{"0": ("not yet", GREEN), "1": ("late", RED)})


def _delay_increase(suffix: str, extra: tuple[str, ...] = ()) -> str:
    """Per platform (and ``extra`` labels), the delay histogram's increase over the time range."""
    keys = ("platform", *extra)
    per_watch = dedup(f"increase({REPO(f'{DELAY}_{suffix}')}[$__range])", (*REPO_KEYS, *keys))
    return f"sum by ({labels(keys)}) ({per_watch})"


def _delay_quantile(q: float) -> str:
    return f"histogram_quantile({q}, {_delay_increase('bucket', ('le',))})"


def _expected(percentile: str) -> str:
    """Per platform, the repository's expected delay (its last 20 measured delays)."""
    matcher = 'percentile="' + percentile + '"'
    per_watch = dedup(REPO(EXPECTED, matcher), (*REPO_KEYS, "platform"))
    return f"sum by (platform) ({per_watch})"


def _per_tag_difference(later: str, earlier: str, keys: tuple[str, ...]) -> str:
    """``later - earlier`` within each archlag process, then one value per platform of a tag."""
    return dedup(
        f"{TAG(later)} - on ({labels(per_instance(keys))}) group_left () {TAG(earlier)}",
        PLATFORM_KEYS,
    )


def build() -> sdk.Dashboard:
    layout = Layout()
    spread = dedup(
        f"increase({REPO('archlag_tag_publication_spread_seconds_bucket')}[$__range])",
        (*REPO_KEYS, "le"),
    )
    layout.add(
        stat(
            "Stall threshold",
            "The watch's stall_after: when a missing platform is late while archlag has "
            "measured too few releases of it (ArchlagPlatformLate), and the fixed threshold of "
            "ArchlagPlatformMissing.",
            Query(dedup(REPO("archlag_watch_stall_threshold_seconds"), REPO_KEYS)),
            unit="s",
        ),
        stat(
            "Poll interval",
            "How often archlag polls this repository (the watch's interval).",
            Query(dedup(REPO("archlag_watch_poll_interval_seconds"), REPO_KEYS)),
            unit="s",
        ),
        stat(
            "Incomplete tags",
            "Selected tags whose current publication lacks at least one expected platform.",
            Query(f"count({dedup(TAG('archlag_tag_complete'), TAG_KEYS)} == 0) or vector(0)"),
            thresholds=steps((None, GREEN), (1, ORANGE)),
        ),
        stat(
            "p90 spread",
            "90th percentile of first-to-last-platform time over the publications completed "
            "in the dashboard's time range (empty without completions).",
            Query(f"histogram_quantile(0.9, {spread}) >= 0"),
            unit="s",
        ),
    )
    available = dedup(TAG("archlag_tag_platform_available"), PLATFORM_KEYS)
    layout.add(
        table(
            "Availability matrix",
            "One row per tag, one column per platform: present, or missing (expected but not "
            "seen yet, or seen and vanished). Platforms that a tag never had and was not "
            "expected to have are blank.",
            [Query(available)],
            unit="none",
            mappings=PRESENT,
            matrix=("tag", "platform"),
            height=10,
        ),
        status_history(
            "Availability over time",
            "Each tag and platform over the time range: green while present, red while "
            "missing. Gaps are times the tag was not tracked.",
            Query(available, "{{tag}} {{platform}}"),
            PRESENT,
            height=10,
        ),
    )
    layout.add(
        bargauge(
            "Delay after the first platform, by platform",
            "For publications completed in the time range: median (p50) and 90th percentile "
            "(p90) of how long after the publication's first platform each platform appeared; "
            "and what archlag expects of it (the median of its last 20 measured delays, "
            "whatever the time range), which decides when a missing one is late. The platform "
            "with the longest bar is usually the last one.",
            [
                Query(_delay_quantile(0.5), "{{platform}} p50"),
                Query(_delay_quantile(0.9), "{{platform}} p90"),
                Query(_expected("50"), "{{platform}} expected"),
            ],
            unit="s",
        ),
        table(
            "Delay by platform",
            "Per platform, over the publications completed in the time range: p50, p90 and "
            "mean delay after the first platform, and how many publications that covers. "
            "Beside them, what archlag expects (its last 20 measured delays, whatever the time "
            "range): the usual delay (p50), the slow one (p95; times lateness.margin it is the "
            "deadline of a missing platform) and how many releases that rests on.",
            [
                Query(_delay_quantile(0.5)),
                Query(_delay_quantile(0.9)),
                Query(f"{_delay_increase('sum')} / {_delay_increase('count')}"),
                Query(f"round({_delay_increase('count')})"),
                Query(_expected("50")),
                Query(_expected("95")),
                Query(
                    "sum by (platform) ("
                    + dedup(
                        REPO("archlag_platform_expected_delay_observations"),
                        (*REPO_KEYS, "platform"),
                    )
                    + ")"
                ),
            ],
            unit="s",
            rename={
                "Value #A": "p50",
                "Value #B": "p90",
                "Value #C": "mean",
                "Value #D": "publications",
                "Value #E": "expected p50",
                "Value #F": "expected p95",
                "Value #G": "releases measured",
            },
            overrides=[
                unit_override("publications", "none"),
                unit_override("releases measured", "none"),
            ],
            sort_by="p90",
        ),
    )
    layout.add(
        state_timeline(
            "Publication timeline",
            "One band per tag, starting when archlag first saw it: orange while some expected "
            "platform is missing, green once complete.",
            Query(dedup(TAG("archlag_tag_complete"), TAG_KEYS), "{{tag}}"),
            binary_mapping("complete", "incomplete", zero_color=ORANGE),
            width=24,
        ),
    )
    first_seen = dedup(TAG(FIRST_SEEN), PLATFORM_KEYS)
    layout.add(
        table(
            "First seen, by platform",
            "When each platform of each tag's current publication was first seen.",
            [Query(f"{first_seen} * 1000")],
            unit="dateTimeAsIso",
            matrix=("tag", "platform"),
        ),
        table(
            "Delay after the first platform, by tag",
            "How long after the tag's first platform each platform appeared; 0 for the first one.",
            [
                Query(
                    _per_tag_difference(
                        FIRST_SEEN, "archlag_tag_first_seen_timestamp_seconds", TAG_KEYS
                    )
                )
            ],
            unit="s",
            matrix=("tag", "platform"),
        ),
    )
    late_after = dedup(TAG("archlag_tag_platform_late_after_timestamp_seconds"), PLATFORM_KEYS)
    layout.add(
        table(
            "Missing platforms: when they are late",
            "Each expected platform a tag still lacks: when it becomes late (its repository's "
            "p95 delay for it times lateness.margin, bounded by lateness.min and max, after "
            "the tag's first platform; the watch's stall_after while too few releases were "
            "measured) and whether it is, which is what ArchlagPlatformLate pages on. Empty "
            "while nothing is missing.",
            [
                Query(f"{late_after} * 1000"),
                Query(dedup(TAG("archlag_tag_platform_late"), PLATFORM_KEYS)),
            ],
            unit="dateTimeAsIso",
            rename={"Value #A": "late after", "Value #B": "late"},
            overrides=[
                mapped_column("late", LATE, thresholds=steps((None, GREEN), (1, RED))),
            ],
            sort_by="late after",
            width=24,
        ),
    )
    last_absent = "archlag_tag_platform_last_absent_timestamp_seconds"
    layout.add(
        table(
            "Tags",
            "Each selected tag: when its current publication's first platform appeared, and "
            "whether every expected platform is there.",
            [
                Query(dedup(TAG("archlag_tag_first_seen_timestamp_seconds"), TAG_KEYS) + " * 1000"),
                Query(dedup(TAG("archlag_tag_complete"), TAG_KEYS)),
            ],
            unit="dateTimeAsIso",
            rename={"Value #A": "first seen", "Value #B": "complete"},
            overrides=[
                mapped_column(
                    "complete",
                    binary_mapping("yes", "no"),
                    thresholds=steps((None, ORANGE), (1, GREEN)),
                )
            ],
            sort_by="first seen",
        ),
        table(
            "When each platform appeared",
            "A platform appeared after the last check that saw its tag without it (absent at) "
            "and by its first-seen time: the window is how precise its first-seen time and "
            "delay are. Platforms there at archlag's first look have no window.",
            [
                Query(f"{first_seen} * 1000"),
                Query(dedup(TAG(last_absent), PLATFORM_KEYS) + " * 1000"),
                Query(_per_tag_difference(FIRST_SEEN, last_absent, PLATFORM_KEYS)),
            ],
            unit="dateTimeAsIso",
            rename={"Value #A": "first seen", "Value #B": "absent at", "Value #C": "window"},
            overrides=[unit_override("window", "s")],
            sort_by="first seen",
        ),
    )
    return dashboard(
        uid="archlag-repository",
        title="archlag repository",
        description="Tags and platforms of one watched repository: availability and delays.",
        variables=[
            *repository_variables(multi=False),
            query_variable(
                "tag",
                "Tag",
                'archlag_tag_complete{job=~"$job", instance=~"$instance", '
                'registry=~"$registry", repository=~"$repository"}',
                "tag",
            ),
        ],
        layout=layout,
        time_from="now-7d",
    )
