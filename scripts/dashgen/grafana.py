"""Builders for classic Grafana dashboard JSON (plain dicts), shared by archlag's dashboards.

Every panel and target points at the ``datasource`` template variable, never at a concrete data
source, so the files work both when imported in the UI and when provisioned from disk. Panels are
laid out left to right on Grafana's 24-column grid by :class:`Layout`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

SCHEMA_VERSION = 39  # Grafana 10.x; newer Grafana migrates it on load
GRID_WIDTH = 24
DATASOURCE: Json = {"type": "prometheus", "uid": "${datasource}"}
ALL = {"selected": True, "text": ["All"], "value": ["$__all"]}

GREEN, ORANGE, RED = "green", "orange", "red"


def binary_mapping(one: str, zero: str, *, zero_color: str = RED) -> list[Json]:
    """A value mapping that names 1 and 0 and colours them."""
    return [
        {
            "type": "value",
            "options": {
                "0": {"text": zero, "color": zero_color, "index": 0},
                "1": {"text": one, "color": GREEN, "index": 1},
            },
        }
    ]


def steps(*pairs: tuple[float | None, str]) -> Json:
    """Absolute thresholds: ``steps((None, "green"), (1, "orange"))``."""
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in pairs]}


def datasource_variable() -> Json:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
    }


def query_variable(
    name: str, label: str, metric: str, label_name: str, *, multi: bool = True
) -> Json:
    """A ``label_values(metric, label)`` variable; multi-select ones default to All (``.*``)."""
    query = f"label_values({metric}, {label_name})"
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-variable"},
        "definition": query,
        "current": ALL if multi else {},
        "hide": 0,
        "includeAll": multi,
        "allValue": ".*" if multi else None,
        "multi": multi,
        "options": [],
        "refresh": 2,  # on time-range change, so new tags show up
        "regex": "",
        "sort": 1,
    }


@dataclass(frozen=True, slots=True)
class Target:
    """One PromQL query of a panel. ``instant`` queries feed tables, stats and bar gauges."""

    expr: str
    legend: str = ""
    instant: bool = False
    format: str = "time_series"

    def to_json(self, ref_id: str) -> Json:
        return {
            "datasource": DATASOURCE,
            "refId": ref_id,
            "expr": self.expr,
            "legendFormat": self.legend,
            "instant": self.instant,
            "range": not self.instant,
            "format": self.format,
            "editorMode": "code",
        }


@dataclass(frozen=True, slots=True)
class Panel:
    """A panel before layout: ``defaults`` is its field config, ``options`` its panel options."""

    type: str
    title: str
    description: str
    targets: Sequence[Target]
    width: int
    height: int
    unit: str = "none"
    defaults: Json = field(default_factory=dict)
    overrides: Sequence[Json] = ()
    options: Json = field(default_factory=dict)
    transformations: Sequence[Json] = ()
    interval: str | None = None  # minimum query step, for sparse events

    def to_json(self, panel_id: int, x: int, y: int) -> Json:
        panel: Json = {
            "id": panel_id,
            "type": self.type,
            "title": self.title,
            "description": self.description,
            "datasource": DATASOURCE,
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "targets": [t.to_json(chr(ord("A") + i)) for i, t in enumerate(self.targets)],
            "fieldConfig": {
                "defaults": {"unit": self.unit, **self.defaults},
                "overrides": list(self.overrides),
            },
            "options": self.options,
        }
        if self.transformations:
            panel["transformations"] = list(self.transformations)
        if self.interval:
            panel["interval"] = self.interval
        return panel


class Layout:
    """Places panels left to right, wrapping to a new row when the 24 columns are used up."""

    def __init__(self) -> None:
        self._panels: list[Json] = []
        self._x = 0
        self._y = 0
        self._row_height = 0

    def add(self, *panels: Panel) -> None:
        for panel in panels:
            if self._x + panel.width > GRID_WIDTH:
                self._x, self._y, self._row_height = 0, self._y + self._row_height, 0
            self._panels.append(panel.to_json(len(self._panels) + 1, self._x, self._y))
            self._x += panel.width
            self._row_height = max(self._row_height, panel.height)

    @property
    def panels(self) -> list[Json]:
        return list(self._panels)


def dashboard(
    *,
    uid: str,
    title: str,
    description: str,
    variables: Iterable[Json],
    layout: Layout,
    time_from: str = "now-24h",
) -> Json:
    return {
        "id": None,
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["archlag"],
        "editable": True,
        "graphTooltip": 1,
        "timezone": "",
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "refresh": "1m",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "annotations": {"list": []},
        "links": [
            {
                "title": "archlag dashboards",
                "type": "dashboards",
                "tags": ["archlag"],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "templating": {"list": [datasource_variable(), *variables]},
        "panels": layout.panels,
    }


# Panel helpers. Each sets the options that matter for archlag and leaves the rest to Grafana.


def stat(
    title: str,
    description: str,
    target: Target,
    *,
    width: int = 6,
    unit: str = "none",
    mappings: list[Json] | None = None,
    thresholds: Json | None = None,
    text_mode: str = "value",
) -> Panel:
    return Panel(
        "stat",
        title,
        description,
        [target],
        width,
        4,
        unit,
        defaults={
            "mappings": mappings or [],
            "color": {"mode": "thresholds"},
            "thresholds": thresholds or steps((None, GREEN)),
        },
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background" if mappings else "value",
            "graphMode": "none",
            "textMode": text_mode,
            "justifyMode": "auto",
            "orientation": "auto",
        },
    )


def timeseries(
    title: str,
    description: str,
    targets: Sequence[Target],
    *,
    unit: str,
    width: int = 12,
    height: int = 8,
    bars: bool = False,
    interval: str | None = None,
) -> Panel:
    custom: Json = {"drawStyle": "bars", "fillOpacity": 80} if bars else {"fillOpacity": 10}
    return Panel(
        "timeseries",
        title,
        description,
        targets,
        width,
        height,
        unit,
        defaults={"custom": {"showPoints": "never", **custom}},
        options={
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        interval=interval,
    )


def table(
    title: str,
    description: str,
    targets: Sequence[Target],
    *,
    unit: str,
    hide: Iterable[str] = (),
    rename: dict[str, str] | None = None,
    overrides: Sequence[Json] = (),
    sort_by: str | None = None,
    mappings: list[Json] | None = None,
    matrix: tuple[str, str] | None = None,
    width: int = 12,
    height: int = 8,
) -> Panel:
    """An instant-query table. Several targets are merged into one row per label set;
    ``matrix=(row, column)`` pivots a single target into a row x column grid of values."""
    transformations: list[Json] = []
    if len(targets) > 1:
        transformations.append({"id": "merge", "options": {}})
    if matrix:
        row, column = matrix
        transformations.append(
            {
                "id": "groupingToMatrix",
                "options": {"rowField": row, "columnField": column, "valueField": "Value"},
            }
        )
    else:
        excluded = dict.fromkeys(("Time", "__name__", "job", "instance", *hide), True)
        transformations.append(
            {
                "id": "organize",
                "options": {"excludeByName": excluded, "renameByName": rename or {}},
            }
        )
    field_defaults: Json = {"custom": {"align": "auto"}}
    if mappings:
        field_defaults = {
            "custom": {"align": "center", "cellOptions": {"type": "color-background"}},
            "mappings": mappings,
            "color": {"mode": "thresholds"},
            "thresholds": steps((None, RED), (1, GREEN)),
        }
    overrides = list(overrides)
    if matrix and mappings:
        # The row-label column holds names, not states: keep it uncoloured.
        overrides.append(
            {
                "matcher": {"id": "byName", "options": f"{matrix[0]}\\{matrix[1]}"},
                "properties": [{"id": "custom.cellOptions", "value": {"type": "auto"}}],
            }
        )
    options: Json = {"showHeader": True, "cellHeight": "sm"}
    if sort_by:
        options["sortBy"] = [{"displayName": sort_by, "desc": True}]
    instant = [Target(t.expr, t.legend, instant=True, format="table") for t in targets]
    return Panel(
        "table",
        title,
        description,
        instant,
        width,
        height,
        unit,
        defaults=field_defaults,
        overrides=overrides,
        options=options,
        transformations=transformations,
    )


def unit_override(column: str, unit: str) -> Json:
    return {
        "matcher": {"id": "byName", "options": column},
        "properties": [{"id": "unit", "value": unit}],
    }


def heatmap(
    title: str, description: str, target: Target, *, width: int = 12, interval: str = "1h"
) -> Panel:
    """A heatmap over an already bucketed histogram (``increase`` of ``_bucket`` by ``le``)."""
    bucketed = Target(target.expr, "{{le}}", format="heatmap")
    return Panel(
        "heatmap",
        title,
        description,
        [bucketed],
        width,
        8,
        "s",
        options={
            "calculate": False,
            "yAxis": {"unit": "s", "axisPlacement": "left"},
            "rowsFrame": {"layout": "le"},
            "cellGap": 1,
            "color": {"mode": "scheme", "scheme": "Oranges", "exponent": 0.5, "steps": 64},
            "filterValues": {"le": 1e-9},
            "tooltip": {"show": True, "yHistogram": False},
            "legend": {"show": True},
        },
        interval=interval,
    )


def state_panel(
    kind: str,
    title: str,
    description: str,
    target: Target,
    mappings: list[Json],
    *,
    width: int = 12,
    height: int = 8,
) -> Panel:
    """``state-timeline`` or ``status-history`` of a 1/0 gauge, coloured by its mapping."""
    options: Json = {
        "showValue": "never",
        "rowHeight": 0.9,
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
        "tooltip": {"mode": "single", "sort": "none"},
    }
    if kind == "state-timeline":
        options["mergeValues"] = True
    else:
        options["colWidth"] = 0.9
    return Panel(
        kind,
        title,
        description,
        [target],
        width,
        height,
        "none",
        defaults={
            "mappings": mappings,
            "color": {"mode": "thresholds"},
            "thresholds": steps((None, RED), (1, GREEN)),
        },
        options=options,
    )


def bargauge(
    title: str, description: str, targets: Sequence[Target], *, unit: str, width: int = 12
) -> Panel:
    instant = [Target(t.expr, t.legend, instant=True) for t in targets]
    return Panel(
        "bargauge",
        title,
        description,
        instant,
        width,
        8,
        unit,
        defaults={"min": 0, "color": {"mode": "continuous-GrYlRd"}},
        options={
            "displayMode": "gradient",
            "orientation": "horizontal",
            "showUnfilled": True,
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
    )


def repository_variables(*, multi: bool = True) -> list[Json]:
    """``job``, ``registry`` and ``repository`` variables, each narrowed by the one before."""
    watches = "archlag_watch_poll_interval_seconds"
    return [
        query_variable("job", "Job", "archlag_build_info", "job"),
        query_variable(
            "registry", "Registry", f'{watches}{{job=~"$job"}}', "registry", multi=multi
        ),
        query_variable(
            "repository",
            "Repository",
            f'{watches}{{job=~"$job", registry=~"$registry"}}',
            "repository",
            multi=multi,
        ),
    ]
