"""Reading archlag's Grafana dashboards the way Grafana would, without Grafana.

:func:`panel_queries` lists every PromQL query of every panel; :func:`substitute` replaces
Grafana's variables (``$__rate_interval``, ``$registry``, ``${datasource}``...) with concrete
values so Prometheus or promtool can parse the result; :func:`metric_names` finds the metric
names a query reads, and :func:`instance_reduction` whether a query reduces a metric across
archlag processes the way sharded and HA deployments need. Used by the static dashboard checks
and the end-to-end tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from tests.support.paths import ROOT

DASHBOARD_DIR = ROOT / "dashboards"
RULES_PATH = ROOT / "alerts" / "archlag.rules.yml"
README_PATH = ROOT / "README.md"

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
    | {"and", "or", "unless", "atan2", "inf", "nan"}
)


@dataclass(frozen=True, slots=True)
class Selector:
    name: str
    position: int  # of the name in the expression
    matchers: str  # "{...}", or "" without matchers


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


def _blank(expr: str) -> str:
    """``expr`` with string contents blanked, so quotes cannot hide brackets; positions kept."""
    return re.sub(r'"(?:[^"\\]|\\.)*"', lambda m: '"' + " " * (len(m.group()) - 2) + '"', expr)


def _spaces(match: re.Match[str]) -> str:
    return " " * len(match.group())


def metric_selectors(expr: str) -> list[Selector]:
    """Every metric selector of a PromQL expression (a small tokenizer, enough for our queries):
    identifiers outside strings, label matchers, durations and grouping clauses that are
    neither function names nor keywords, with their label matchers."""
    blank = _blank(expr)
    text = re.sub(r"\{[^}]*\}", _spaces, blank)
    text = re.sub(r"\[[^\]]*\]", _spaces, text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", _spaces, text)
    found = []
    for match in re.finditer(r"[A-Za-z_:][\w:]*", text):
        before = text[match.start() - 1] if match.start() else " "
        after = text[match.end() :].lstrip()[:1]
        if before.isdigit() or before == "." or after == "(":
            continue  # part of a number, or a function call
        if match.group().lower() in _KEYWORDS:
            continue
        braces = re.match(r"\{[^}]*\}", blank[match.end() :])
        matchers = expr[match.end() : match.end() + braces.end()] if braces else ""
        found.append(Selector(match.group(), match.start(), matchers))
    return found


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects."""
    return {selector.name for selector in metric_selectors(expr)}


_AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)


@dataclass(frozen=True, slots=True)
class Aggregation:
    op: str
    modifier: str  # "by", "without", or "" for neither
    labels: frozenset[str]

    @property
    def keeps_instance(self) -> bool:
        if self.modifier == "by":
            return "instance" in self.labels
        return self.modifier == "without" and "instance" not in self.labels


def _enclosing_aggregations(blank: str, position: int) -> list[Aggregation]:
    """The aggregations around ``position``, innermost first."""
    opened: list[int] = []
    pairs: list[tuple[int, int]] = []
    for index, char in enumerate(blank):
        if char == "(":
            opened.append(index)
        elif char == ")":
            pairs.append((opened.pop(), index))
    found = []
    for start, end in sorted((p for p in pairs if p[0] < position < p[1]), reverse=True):
        head = blank[:start]
        prefix = re.search(r"\b(\w+)\s+(by|without)\s*\(([^()]*)\)\s*$", head)
        if prefix and prefix.group(1) in _AGGREGATIONS:
            op, modifier, names = prefix.groups()
        else:
            bare = re.search(r"\b(\w+)\s*$", head)
            if not bare or bare.group(1) not in _AGGREGATIONS:
                continue  # a function call or plain parentheses
            op = bare.group(1)
            postfix = re.match(r"\s*(by|without)\s*\(([^()]*)\)", blank[end + 1 :])
            modifier, names = postfix.groups() if postfix else ("", "")
        labels = frozenset(n.strip() for n in names.split(",") if n.strip())
        found.append(Aggregation(op, modifier, labels))
    return found


def instance_reduction(expr: str, selector: Selector) -> str | None:
    """Why ``selector`` in ``expr`` is not reduced across instances with ``max`` before any
    other aggregation drops the ``instance`` label, or None when it is."""
    for aggregation in _enclosing_aggregations(_blank(expr), selector.position):
        if aggregation.keeps_instance:
            continue  # per-instance arithmetic, reduced further out
        if aggregation.op == "max" and aggregation.modifier == "by":
            return None
        return f"{selector.name} is first aggregated across instances by {aggregation.op}"
    return f"{selector.name} is never reduced across instances"


def readme_metrics() -> dict[str, tuple[str, frozenset[str]]]:
    """The README's metrics table: each metric's type and labels."""
    text = README_PATH.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(archlag_\w+)` \| (\w+) \|([^|]*)\|", text, re.MULTILINE)
    return {
        name: (kind, frozenset(label.strip() for label in names.split(",") if label.strip()))
        for name, kind, names in rows
    }


def recording_rule_names() -> set[str]:
    rules = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))
    return {
        rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule
    }


def repository_metrics() -> set[str]:
    """Metrics about watched repositories: one shard has each, both HA replicas do. The
    recording rules named archlag:... keep those labels (and the instance)."""
    found = {name for name, (_kind, labels) in readme_metrics().items() if "repository" in labels}
    found |= {name for name in recording_rule_names() if name.startswith("archlag:")}
    histograms = {n for n, (kind, _) in readme_metrics().items() if kind == "histogram"}
    found |= {f"{h}{s}" for h in histograms & found for s in ("_bucket", "_sum", "_count")}
    return found
