"""archlag's conventions on top of grafana-foundation-sdk, Grafana's typed dashboard builders.

The SDK (generated from Grafana's own schemas) owns the JSON shape: field names, enums, panel
options, ``schemaVersion``. This module holds what every archlag panel shares: every target
points at the ``datasource`` template variable (so the files work imported in the UI and
provisioned from disk), value mappings, thresholds and column overrides, and :class:`Layout`,
which places panels left to right on Grafana's 24-column grid (the SDK's own placement lets a
panel run past the right edge). :mod:`dashgen.panels` builds the panels.
"""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.builders import bargauge as sdk_bargauge
from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.builders import heatmap as sdk_heatmap
from grafana_foundation_sdk.builders import prometheus as sdk_prometheus
from grafana_foundation_sdk.builders import stat as sdk_stat
from grafana_foundation_sdk.builders import statetimeline as sdk_statetimeline
from grafana_foundation_sdk.builders import statushistory as sdk_statushistory
from grafana_foundation_sdk.builders import table as sdk_table
from grafana_foundation_sdk.builders import timeseries as sdk_timeseries
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus

GRID_WIDTH = 24
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
GREEN, ORANGE, RED, BLUE = "green", "orange", "red", "blue"


def value_mapping(**texts: tuple[str, str]) -> list[model.ValueMapping]:
    """``value_mapping(ok=("ok", GREEN))``: each raw value's display text and colour."""
    return [
        model.ValueMap(
            options={
                value: model.ValueMappingResult(text=text, color=color, index=index)
                for index, (value, (text, color)) in enumerate(texts.items())
            }
        )
    ]


def binary_mapping(one: str, zero: str, *, zero_color: str = RED) -> list[model.ValueMapping]:
    """A value mapping that names 1 and 0 and colours them."""
    return value_mapping(**{"0": (zero, zero_color), "1": (one, GREEN)})


def steps(*pairs: tuple[float | None, str]) -> sdk.ThresholdsConfig:
    """Absolute thresholds: ``steps((None, GREEN), (1, ORANGE))``."""
    return (
        sdk.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=v, color=c) for v, c in pairs])
    )


def by_thresholds() -> sdk.FieldColor:
    return sdk.FieldColor().mode(model.FieldColorModeId.THRESHOLDS)


@dataclass(frozen=True, slots=True)
class Query:
    """One PromQL query of a panel."""

    expr: str
    legend: str = ""

    def target(
        self,
        ref_id: str,
        *,
        instant: bool = False,
        format_val: prometheus.PromQueryFormat = prometheus.PromQueryFormat.TIME_SERIES,
    ) -> sdk_prometheus.Dataquery:
        target = (
            sdk_prometheus.Dataquery()
            .datasource(DATASOURCE)
            .ref_id(ref_id)
            .expr(self.expr)
            .legend_format(self.legend)
            .format(format_val)
            .editor_mode(prometheus.QueryEditorMode.CODE)
        )
        return target.instant() if instant else target.range()


def ref_id(index: int) -> str:
    return chr(ord("A") + index)


def override(column: str, **properties: object) -> sdk.DashboardFieldConfigSourceOverrides:
    """Field settings for one column, e.g. ``override("age", unit="s")``."""
    return (
        sdk.DashboardFieldConfigSourceOverrides()
        .matcher(model.MatcherConfig(id_val="byName", options=column))
        .properties(
            [
                model.DynamicConfigValue(id_val=key.replace("__", "."), value=value)
                for key, value in properties.items()
            ]
        )
    )


def unit_override(column: str, unit: str) -> sdk.DashboardFieldConfigSourceOverrides:
    return override(column, unit=unit)


def mapped_column(
    column: str, mappings: list[model.ValueMapping], *, thresholds: sdk.ThresholdsConfig
) -> sdk.DashboardFieldConfigSourceOverrides:
    """A table column shown as coloured text through its value mapping."""
    return override(
        column,
        unit="none",
        mappings=mappings,
        custom__cellOptions={"type": "color-text"},
        thresholds=thresholds.build(),
        color={"mode": "thresholds"},
    )


PanelBuilder = (
    sdk_bargauge.Panel
    | sdk_heatmap.Panel
    | sdk_stat.Panel
    | sdk_statetimeline.Panel
    | sdk_statushistory.Panel
    | sdk_table.Panel
    | sdk_timeseries.Panel
)


class Layout:
    """Numbers panels and places them left to right, wrapping to a new row when the 24
    columns are used up."""

    def __init__(self) -> None:
        self.panels: list[PanelBuilder] = []
        self._x = 0
        self._y = 0
        self._row_height = 0

    def add(self, *panels: PanelBuilder) -> None:
        for panel in panels:
            size = panel.build().grid_pos or model.GridPos()
            if self._x + size.w > GRID_WIDTH:
                self._x, self._y, self._row_height = 0, self._y + self._row_height, 0
            position = model.GridPos(h=size.h, w=size.w, x=self._x, y=self._y)
            self.panels.append(panel.id(len(self.panels) + 1).grid_pos(position))
            self._x += size.w
            self._row_height = max(self._row_height, size.h)
