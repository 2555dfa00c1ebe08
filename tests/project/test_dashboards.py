"""Static checks of dashboards/*.json: what Grafana and a user importing them rely on.

No Grafana here: the checks decode every file with Grafana's own dashboard model (as generated
into grafana-foundation-sdk), re-implement the dashboard-linter rules that matter (data source
variable everywhere, job and instance variables, titles, descriptions, units, rate intervals),
parse every query with promtool, compare the metric names with archlag's public metric set,
and check that every query serves a sharded or HA deployment without counting twice.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard as DashboardModel

from tests.support.dashboards import (
    ROOT,
    Query,
    Selector,
    instance_reduction,
    load_dashboards,
    metric_names,
    metric_selectors,
    panel_queries,
    panels,
    readme_metrics,
    recording_rule_names,
    repository_metrics,
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

# archlag's public metrics are the README's table (tests/project/test_docs.py holds it to the
# exposition).
# Series Prometheus writes itself: the scrape's up and duration, and the rules' alert state.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "ALERTS"}
# Gauges that are 1 or 0: shown as-is they need a value mapping.
BINARY_GAUGES = {
    "archlag_tag_platform_available",
    "archlag_tag_platform_late",
    "archlag_tag_complete",
    "archlag_registry_up",
    "archlag_state_file_ok",
    "up",
}
# Queries that read the whole job whatever the instance selection, and why.
WHOLE_JOB = {
    ("archlag-exporter-health.json", "Missing shards"): "a shard left out is still missing",
    ("archlag-exporter-health.json", "Shard totals"): "every shard must agree on the total",
}

STATIC_VALUES = {
    "__rate_interval": "1m",
    "__range": "1h",
    "__interval": "1m",
    "job": ".*",
    "instance": ".*",
    "registry": ".*",
    "repository": ".*",
    "tag": ".*",
}


def known_metrics() -> set[str]:
    names = set(PROMETHEUS_SERIES | recording_rule_names())
    for name, (kind, _labels) in readme_metrics().items():
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count")}
    return names


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


def test_every_field_is_one_grafanas_dashboard_model_knows() -> None:
    # grafana-foundation-sdk's models are generated from Grafana's dashboard schema (no
    # package ships that schema as JSON Schema, see docs/dashboards.md). Decoding drops any
    # field the model does not know and encoding adds any default the file lacks, so a file
    # that survives the round trip unchanged has only fields Grafana's schema defines.
    register_default_plugins()
    for path in sorted((ROOT / "dashboards").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        again = json.loads(JSONEncoder().encode(DashboardModel.from_json(data)))
        assert again == data, f"{path.name} has fields Grafana's dashboard model does not know"


def test_files_uids_and_top_level_fields(dashboards: dict[str, dict[str, Any]]) -> None:
    assert {name: d["uid"] for name, d in dashboards.items()} == EXPECTED_FILES
    for name, dashboard in dashboards.items():
        # No instance-local id: absent and null both let Grafana assign its own.
        assert dashboard.get("id") is None, name
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
        names = [v["name"] for v in declared]
        assert names[:3] == ["datasource", "job", "instance"], name
        assert "registry" in names, name
        for variable in declared:
            if variable["type"] == "query":
                assert variable["datasource"] == DATASOURCE, f"{name}: {variable['name']}"
                assert variable["query"].startswith("label_values("), variable["name"]
                assert variable["refresh"] == 2, f"{name}: {variable['name']} must follow time"


def test_job_and_instance_variables_select_every_process_by_default(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    # A sharded or HA deployment is several instances of one job: All must cover them all.
    for name, dashboard in dashboards.items():
        for variable in variables(dashboard)[1:3]:
            where = f"{name}: {variable['name']}"
            assert variable["multi"], where
            assert variable["includeAll"], where
            assert variable["allValue"] == ".*", where
            assert variable["current"]["value"] == ["$__all"], where


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
                # The gauge itself, or one series of it per identity (max or min across
                # instances), is still 1 or 0.
                bare = re.fullmatch(
                    r"(?:(?:max|min) by \([^)]*\) \()?(\w+)\{[^}]*\}\)?", target["expr"]
                )
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
                    r"(and|unless) on \([^)]*\) (max by \([^)]*\) \()?\w+_timestamp_seconds"
                    r"\{[^}]*\}\)?",
                    "",
                    target["expr"],
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
    assert metric_selectors(expr)[0] == Selector("a_bucket", 56, '{x=~"b.c"}')


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ('count(max by (job, tag) (x{a="("}) == 0)', None),
        ("histogram_quantile(0.9, max by (job, le) (increase(x[1m])))", None),
        ("max by (job, tag) (max by (job, instance, tag) (x) - on (job, instance) y)", None),
        ("max(x) by (job)", None),
        # without (instance) keeps labels that differ per replica (a pod label, say).
        ("max without (instance) (x)", "x is first aggregated across instances by max"),
        ("sum by (job) (x)", "x is first aggregated across instances by sum"),
        ("count(max by (job, instance) (x))", "x is first aggregated across instances by count"),
        # max of everything is one series for all repositories, not one per identity.
        ("max(x)", "x is first aggregated across instances by max"),
        ("x * 1000", "x is never reduced across instances"),
    ],
)
def test_instance_reduction_rule(expr: str, problem: str | None) -> None:
    selector = next(s for s in metric_selectors(expr) if s.name == "x")
    assert instance_reduction(expr, selector) == problem


def test_repository_metrics_are_reduced_across_instances_with_max_first(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    # Each repository is on one shard, and on both of two HA replicas: max by its identity
    # labels is the union of the shards and keeps one of the replicas, so no count or sum
    # of a panel counts a repository, tag or platform twice.
    identity = repository_metrics()
    problems = []
    for name, dashboard in dashboards.items():
        for query in panel_queries(name, dashboard):
            for selector in metric_selectors(query.expr):
                if selector.name in identity:
                    problem = instance_reduction(query.expr, selector)
                    if problem:
                        problems.append(f"{query.where}: {problem}")
    assert not problems, "\n".join(problems)


def test_every_archlag_selector_follows_the_job_and_instance_variables(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    process_series = {"up", "scrape_duration_seconds"}
    for name, dashboard in dashboards.items():
        for query in panel_queries(name, dashboard):
            for selector in metric_selectors(query.expr):
                if not (selector.name.startswith("archlag") or selector.name in process_series):
                    continue
                assert 'job=~"$job"' in selector.matchers, f"{query.where}: {selector.name}"
                if (name, query.panel) in WHOLE_JOB:
                    assert "instance" not in selector.matchers, query.where
                else:
                    assert 'instance=~"$instance"' in selector.matchers, query.where


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
