"""Static checks of dashboards/*.json: what Grafana and a user importing them rely on.

No Grafana here: the checks re-implement the dashboard-linter rules that matter (data source
variable everywhere, titles, descriptions, units, rate intervals), parse every query with
promtool, and compare the metric names with archlag's public metric set.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.dashboards import (
    ROOT,
    Query,
    load_dashboards,
    metric_names,
    panel_queries,
    panels,
    recording_rule_names,
    substitute,
    variable_selectors,
    variables,
)

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
EXPECTED_FILES = {
    "archlag-overview.json": "archlag-overview",
    "archlag-repository.json": "archlag-repository",
    "archlag-exporter-health.json": "archlag-exporter-health",
}

# archlag's public metrics (the exporter issue fixes these names).
GAUGES = {
    "archlag_tag_platform_available",
    "archlag_tag_platform_first_seen_timestamp_seconds",
    "archlag_tag_first_seen_timestamp_seconds",
    "archlag_tag_complete",
    "archlag_watch_stall_threshold_seconds",
    "archlag_registry_up",
    "archlag_repository_last_poll_success_timestamp_seconds",
    "archlag_watch_poll_interval_seconds",
    "archlag_build_info",
}
COUNTERS = {"archlag_platform_regressions_total", "archlag_registry_requests_total"}
HISTOGRAMS = {
    "archlag_tag_publication_spread_seconds",
    "archlag_platform_publication_delay_seconds",
    "archlag_registry_request_duration_seconds",
}
# Series Prometheus writes itself: the scrape's up and duration, and the rules' alert state.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "ALERTS"}
# Gauges that are 1 or 0: shown as-is they need a value mapping.
BINARY_GAUGES = {
    "archlag_tag_platform_available",
    "archlag_tag_complete",
    "archlag_registry_up",
    "up",
}

STATIC_VALUES = {
    "__rate_interval": "1m",
    "__range": "1h",
    "__interval": "1m",
    "job": ".*",
    "registry": ".*",
    "repository": ".*",
    "tag": ".*",
}


def known_metrics() -> set[str]:
    histogram_series = {
        f"{h}{suffix}" for h in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")
    }
    return GAUGES | COUNTERS | histogram_series | PROMETHEUS_SERIES | recording_rule_names()


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict[str, Any]]:
    return load_dashboards()


@pytest.fixture(scope="module")
def queries(dashboards: dict[str, dict[str, Any]]) -> list[Query]:
    found = []
    for name, dashboard in dashboards.items():
        found += panel_queries(name, dashboard) + variable_selectors(name, dashboard)
    return found


def walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every (path, value) pair of a JSON document."""
    pairs = [(path, node)]
    if isinstance(node, dict):
        for key, value in node.items():
            pairs += walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            pairs += walk(value, f"{path}[{index}]")
    return pairs


def test_committed_json_is_what_the_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen-dashboards"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_files_uids_and_top_level_fields(dashboards: dict[str, dict[str, Any]]) -> None:
    assert {name: d["uid"] for name, d in dashboards.items()} == EXPECTED_FILES
    for name, dashboard in dashboards.items():
        assert dashboard["id"] is None, name
        assert dashboard["title"].startswith("archlag "), name
        assert dashboard["description"], name
        assert 36 <= dashboard["schemaVersion"] <= 41, name
        assert "__inputs" not in dashboard, f"{name}: provisioning cannot resolve __inputs"
        ids = [panel["id"] for panel in panels(dashboard)]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"


def test_panels_fit_the_grid_without_overlapping(dashboards: dict[str, dict[str, Any]]) -> None:
    for name, dashboard in dashboards.items():
        taken: set[tuple[int, int]] = set()
        for panel in panels(dashboard):
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{name}: {panel['title']} is too wide"
            cells = {
                (x, y)
                for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])
            }
            assert not cells & taken, f"{name}: {panel['title']} overlaps another panel"
            taken |= cells


def test_one_datasource_variable_and_label_values_variables(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    for name, dashboard in dashboards.items():
        declared = variables(dashboard)
        sources = [v for v in declared if v["type"] == "datasource"]
        assert len(sources) == 1, name
        assert sources[0]["name"] == "datasource", name
        assert sources[0]["query"] == "prometheus", name
        names = {v["name"] for v in declared}
        assert {"job", "registry"} <= names, name
        for variable in declared:
            if variable["type"] == "query":
                assert variable["datasource"] == DATASOURCE, f"{name}: {variable['name']}"
                assert variable["definition"].startswith("label_values("), variable["name"]
                assert variable["refresh"] == 2, f"{name}: {variable['name']} must follow time"


def test_every_panel_and_target_uses_the_datasource_variable(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    for name, dashboard in dashboards.items():
        for panel in panels(dashboard):
            assert panel["datasource"] == DATASOURCE, f"{name}: {panel['title']}"
            assert panel["targets"], f"{name}: {panel['title']} has no query"
            for target in panel["targets"]:
                assert target["datasource"] == DATASOURCE, f"{name}: {panel['title']}"


def test_no_hard_coded_datasource_anywhere(dashboards: dict[str, dict[str, Any]]) -> None:
    for name, dashboard in dashboards.items():
        for path, value in walk(dashboard):
            if path.endswith(".datasource"):
                assert value == DATASOURCE, f"{name}{path}: {value}"
            if isinstance(value, str):
                assert "DS_" not in value, f"{name}{path}: {value}"


def test_panels_have_title_description_and_unit(dashboards: dict[str, dict[str, Any]]) -> None:
    for name, dashboard in dashboards.items():
        for panel in panels(dashboard):
            where = f"{name}: {panel.get('title')}"
            assert panel.get("title"), where
            assert panel.get("description", "").endswith("."), where
            if panel["type"] == "heatmap":
                assert panel["options"]["yAxis"]["unit"] == "s", where
            else:
                assert panel["fieldConfig"]["defaults"].get("unit"), where


def field_settings(panel: dict[str, Any]) -> list[dict[str, Any]]:
    """The panel's field defaults plus each override's properties, as dicts."""
    found = [panel["fieldConfig"]["defaults"]]
    for override in panel["fieldConfig"]["overrides"]:
        found.append({p["id"]: p["value"] for p in override["properties"]})
    return found


def test_binary_gauges_have_value_mappings(dashboards: dict[str, dict[str, Any]]) -> None:
    for name, dashboard in dashboards.items():
        for panel in panels(dashboard):
            for target in panel["targets"]:
                bare = re.fullmatch(r"(\w+)\{[^}]*\}", target["expr"])
                if bare and bare.group(1) in BINARY_GAUGES:
                    mappings = [m for s in field_settings(panel) for m in s.get("mappings", [])]
                    texts = {key for m in mappings if m["type"] == "value" for key in m["options"]}
                    assert {"0", "1"} <= texts, f"{name}: {panel['title']} needs 1/0 mappings"


def test_timestamps_are_shown_as_dates_or_ages(dashboards: dict[str, dict[str, Any]]) -> None:
    for name, dashboard in dashboards.items():
        for panel in panels(dashboard):
            for target in panel["targets"]:
                # A timestamp used only to filter (`and on (...) x_timestamp_seconds{...}`)
                # is never displayed.
                expr = re.sub(
                    r"(and|unless) on \([^)]*\) \w+_timestamp_seconds\{[^}]*\}", "", target["expr"]
                )
                if "_timestamp_seconds" not in expr:
                    continue
                where = f"{name}: {panel['title']} [{target['refId']}]"
                if "* 1000" in expr:
                    units = {s.get("unit") for s in field_settings(panel)}
                    assert "dateTimeAsIso" in units, where
                else:  # an age or a difference of two timestamps, in seconds
                    assert "time() -" in expr or " - on (" in expr, where


def test_rates_use_grafana_intervals(queries: list[Query]) -> None:
    for query in queries:
        for function, window in re.findall(
            r"\b(rate|irate|increase)\([^\[]*\[([^\]]+)\]", query.expr
        ):
            # increase() over the whole time range is how "per publication in range" is computed.
            allowed = (
                {"$__rate_interval", "$__range"} if function == "increase" else {"$__rate_interval"}
            )
            assert window in allowed, f"{query.where}: {function}(...[{window}])"


def test_every_variable_used_is_defined(dashboards: dict[str, dict[str, Any]]) -> None:
    builtin = {"__rate_interval", "__range", "__interval"}
    for name, dashboard in dashboards.items():
        defined = {v["name"] for v in variables(dashboard)} | builtin
        for query in panel_queries(name, dashboard) + variable_selectors(name, dashboard):
            used = set(re.findall(r"\$\{?(\w+)", query.expr))
            assert used <= defined, f"{query.where}: undefined {used - defined}"


def test_every_metric_exists(queries: list[Query]) -> None:
    known = known_metrics()
    for query in queries:
        unknown = metric_names(query.expr) - known
        assert not unknown, f"{query.where}: unknown metrics {unknown}"


def test_metric_name_tokenizer() -> None:
    expr = (
        'histogram_quantile(0.9, sum by (le, platform) (increase(a_bucket{x=~"b.c"}[1h])))'
        " / on (job) group_left () b_total > bool 1e3 and c:rule:p90 or vector(0)"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c:rule:p90"}


def test_every_query_parses(queries: list[Query], tmp_path: Path) -> None:
    if shutil.which("promtool") is None:
        pytest.fail("promtool not found: install the Debian package prometheus (scripts/test does)")
    rules = [
        {"record": f"dashboard:query_{i}", "expr": substitute(q.expr, STATIC_VALUES)}
        for i, q in enumerate(queries)
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    index = {f"dashboard:query_{i}": q.where for i, q in enumerate(queries)}
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\nqueries: {index}"
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout
