"""Reading archlag's Grafana dashboards the way Grafana would, without Grafana.

:func:`panel_queries` lists every PromQL query of every panel; :func:`substitute` replaces
Grafana's variables (``$__rate_interval``, ``$registry``, ``${datasource}``...) with concrete
values so Prometheus or promtool can parse the result; :func:`metric_names` finds the metric
names a query reads. Used by the static dashboard checks and the end-to-end test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "dashboards"
RULES_PATH = ROOT / "alerts" / "archlag.rules.yml"

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
    | {"and", "or", "unless", "atan2", "inf", "nan"}
)


@dataclass(frozen=True, slots=True)
class Query:
    dashboard: str  # file name
    panel: str  # panel title, or "variable <name>"
    ref_id: str
    expr: str

    @property
    def where(self) -> str:
        return f"{self.dashboard}: {self.panel} [{self.ref_id}]"


def load_dashboards() -> dict[str, dict[str, Any]]:
    """Every ``dashboards/*.json`` by file name."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """All panels, including those nested in rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def variables(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    variable_list: list[dict[str, Any]] = dashboard["templating"]["list"]
    return variable_list


def panel_queries(name: str, dashboard: Mapping[str, Any]) -> list[Query]:
    return [
        Query(name, panel["title"], target["refId"], target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def variable_selectors(name: str, dashboard: Mapping[str, Any]) -> list[Query]:
    """The series selector inside each ``label_values(selector, label)`` variable query."""
    queries = []
    for variable in variables(dashboard):
        if variable["type"] != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        match = _LABEL_VALUES.match(text)
        if match is None:
            raise ValueError(f"{name}: variable {variable['name']} is not label_values(): {text}")
        queries.append(Query(name, f"variable {variable['name']}", "-", match["selector"]))
    return queries


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace ``$name`` and ``${name}`` by ``values[name]``; an unknown name is a KeyError."""

    def replace(match: re.Match[str]) -> str:
        return values[match.group(1) or match.group(2)]

    return _VARIABLE.sub(replace, expr)


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (a small tokenizer, enough for our queries):
    identifiers outside strings, label matchers, durations and grouping clauses that are
    neither function names nor keywords."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][\w:]*", text):
        before = text[match.start() - 1] if match.start() else " "
        after = text[match.end() :].lstrip()[:1]
        if before.isdigit() or before == "." or after == "(":
            continue  # part of a number, or a function call
        if match.group().lower() in _KEYWORDS:
            continue
        names.add(match.group())
    return names


def recording_rule_names() -> set[str]:
    rules = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))
    return {
        rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule
    }
