"""archlag's panels: each helper sets the options that matter for archlag and leaves the rest
to Grafana. Stats, tables and bar gauges use instant queries (the value at the end of the time
range); time series, heatmaps and timelines use range queries. Every panel has a unit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from grafana_foundation_sdk.builders import bargauge as sdk_bargauge
from grafana_foundation_sdk.builders import common as sdk_common
from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.builders import heatmap as sdk_heatmap
from grafana_foundation_sdk.builders import stat as sdk_stat
from grafana_foundation_sdk.builders import statetimeline as sdk_statetimeline
from grafana_foundation_sdk.builders import statushistory as sdk_statushistory
from grafana_foundation_sdk.builders import table as sdk_table
from grafana_foundation_sdk.builders import timeseries as sdk_timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import common, prometheus
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import heatmap as heatmap_model

from dashgen.grafana import (
    DATASOURCE,
    GREEN,
    RED,
    Query,
    by_thresholds,
    override,
    ref_id,
    steps,
)


def stat(
    title: str,
    description: str,
    *queries: Query,
    width: int = 6,
    unit: str = "none",
    mappings: list[model.ValueMapping] | None = None,
    thresholds: sdk.ThresholdsConfig | None = None,
    text_mode: common.BigValueTextMode = common.BigValueTextMode.VALUE,
) -> sdk_stat.Panel:
    return (
        sdk_stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets([q.target(ref_id(i), instant=True) for i, q in enumerate(queries)])
        .span(width)
        .height(4)
        .unit(unit)
        .mappings(mappings or [])
        .color_scheme(by_thresholds())
        .thresholds(thresholds or steps((None, GREEN)))
        .reduce_options(sdk_common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .color_mode(
            common.BigValueColorMode.BACKGROUND if mappings else common.BigValueColorMode.VALUE
        )
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(text_mode)
    )


def _legend(*, show: bool = True) -> sdk_common.VizLegendOptions:
    return (
        sdk_common.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(show)
    )


def timeseries(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str,
    width: int = 12,
    height: int = 8,
    bars: bool = False,
    interval: str | None = None,
) -> sdk_timeseries.Panel:
    panel = (
        sdk_timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets([q.target(ref_id(i)) for i, q in enumerate(queries)])
        .span(width)
        .height(height)
        .unit(unit)
        .show_points(common.VisibilityMode.NEVER)
        .legend(_legend())
        .tooltip(
            sdk_common.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
    )
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
    else:
        panel = panel.fill_opacity(10)
    return panel.interval(interval) if interval else panel


def _transformation(id_val: str, options: object) -> model.DataTransformerConfig:
    return model.DataTransformerConfig(id_val=id_val, options=options)


def table(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str,
    hide: Iterable[str] = (),
    show: Iterable[str] = (),
    rename: dict[str, str] | None = None,
    overrides: Sequence[sdk.DashboardFieldConfigSourceOverrides] = (),
    sort_by: str | None = None,
    mappings: list[model.ValueMapping] | None = None,
    matrix: tuple[str, str] | None = None,
    width: int = 12,
    height: int = 8,
) -> sdk_table.Panel:
    """An instant-query table. Several queries are merged into one row per label set;
    ``matrix=(row, column)`` pivots a single query into a row x column grid of values.
    ``job`` and ``instance`` columns are hidden unless named in ``show``."""
    transformations = []
    if len(queries) > 1:
        transformations.append(_transformation("merge", {}))
    if matrix:
        row, column = matrix
        transformations.append(
            _transformation(
                "groupingToMatrix",
                {"rowField": row, "columnField": column, "valueField": "Value"},
            )
        )
    else:
        hidden = [c for c in ("Time", "__name__", "job", "instance", *hide) if c not in show]
        excluded = dict.fromkeys(hidden, True)
        transformations.append(
            _transformation("organize", {"excludeByName": excluded, "renameByName": rename or {}})
        )
    panel = (
        sdk_table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(
            [
                q.target(ref_id(i), instant=True, format_val=prometheus.PromQueryFormat.TABLE)
                for i, q in enumerate(queries)
            ]
        )
        .span(width)
        .height(height)
        .unit(unit)
        .transformations(transformations)
        .show_header(True)
        .cell_height(common.TableCellHeight.SM)
    )
    all_overrides: list[Builder[model.DashboardFieldConfigSourceOverrides]] = list(overrides)
    if mappings:
        panel = (
            panel.align(common.FieldTextAlignment.CENTER)
            .cell_options(common.TableColoredBackgroundCellOptions())
            .mappings(mappings)
            .color_scheme(by_thresholds())
            .thresholds(steps((None, RED), (1, GREEN)))
        )
        if matrix:
            # The row-label column holds names, not states: keep it uncoloured.
            all_overrides.append(
                override(f"{matrix[0]}\\{matrix[1]}", custom__cellOptions={"type": "auto"})
            )
    else:
        panel = panel.align(common.FieldTextAlignment.AUTO)
    if all_overrides:
        panel = panel.overrides(all_overrides)
    if sort_by:
        panel = panel.sort_by([sdk_common.TableSortByFieldState().display_name(sort_by).desc(True)])
    return panel


def heatmap(
    title: str, description: str, query: Query, *, width: int = 12, interval: str = "1h"
) -> sdk_heatmap.Panel:
    """A heatmap over an already bucketed histogram (``increase`` of ``_bucket`` by ``le``)."""
    bucketed = Query(query.expr, "{{le}}")
    return (
        sdk_heatmap.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(bucketed.target("A", format_val=prometheus.PromQueryFormat.HEATMAP))
        .span(width)
        .height(8)
        .interval(interval)
        .calculate(False)
        .y_axis(sdk_heatmap.YAxisConfig().unit("s").axis_placement(common.AxisPlacement.LEFT))
        .rows_frame(sdk_heatmap.RowsHeatmapOptions().layout(common.HeatmapCellLayout.LE))
        .cell_gap(1)
        .color(
            sdk_heatmap.HeatmapColorOptions()
            .mode(heatmap_model.HeatmapColorMode.SCHEME)
            .scheme("Oranges")
            .exponent(0.5)
            .steps(64)
        )
        .filter_values(sdk_heatmap.FilterValueRange().le(1e-9))
        .mode(common.TooltipDisplayMode.SINGLE)
        .hide_y_histogram()
        .show_legend()
    )


StatePanel = TypeVar("StatePanel", sdk_statetimeline.Panel, sdk_statushistory.Panel)


def _states(
    panel: StatePanel,
    title: str,
    description: str,
    query: Query,
    mappings: list[model.ValueMapping],
    *,
    width: int,
    height: int,
) -> StatePanel:
    """What a timeline of a 1/0 gauge needs: its states named and coloured by ``mappings``."""
    return (
        panel.title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(query.target("A"))
        .span(width)
        .height(height)
        .unit("none")
        .mappings(mappings)
        .color_scheme(by_thresholds())
        .thresholds(steps((None, RED), (1, GREEN)))
        .show_value(common.VisibilityMode.NEVER)
        .fill_opacity(70)
        .row_height(0.9)
        .legend(_legend(show=False))
        .tooltip(sdk_common.VizTooltipOptions().mode(common.TooltipDisplayMode.SINGLE))
    )


def state_timeline(
    title: str,
    description: str,
    query: Query,
    mappings: list[model.ValueMapping],
    *,
    width: int = 12,
    height: int = 8,
) -> sdk_statetimeline.Panel:
    """Bands of a 1/0 gauge over time, one per series."""
    panel = sdk_statetimeline.Panel().line_width(0).merge_values(True)
    return _states(panel, title, description, query, mappings, width=width, height=height)


def status_history(
    title: str,
    description: str,
    query: Query,
    mappings: list[model.ValueMapping],
    *,
    width: int = 12,
    height: int = 8,
) -> sdk_statushistory.Panel:
    """One cell per series and time step of a 1/0 gauge."""
    panel = sdk_statushistory.Panel().line_width(1).col_width(0.9)
    return _states(panel, title, description, query, mappings, width=width, height=height)


def bargauge(
    title: str, description: str, queries: Sequence[Query], *, unit: str, width: int = 12
) -> sdk_bargauge.Panel:
    return (
        sdk_bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets([q.target(ref_id(i), instant=True) for i, q in enumerate(queries)])
        .span(width)
        .height(8)
        .unit(unit)
        .min(0)
        .color_scheme(sdk.FieldColor().mode(model.FieldColorModeId.CONTINUOUS_GR_YL_RD))
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .orientation(common.VizOrientation.HORIZONTAL)
        .show_unfilled(True)
        .reduce_options(sdk_common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
