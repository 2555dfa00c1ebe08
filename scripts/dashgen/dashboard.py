"""The dashboard around the panels: template variables, links, and the JSON that is written.

Every dashboard has a ``datasource`` variable, then ``job`` and ``instance`` (each archlag
process, shard or replica, is one instance), then what it narrows down to.
"""

from __future__ import annotations

from collections.abc import Iterable

from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from dashgen.grafana import DATASOURCE, Layout

TAG = "archlag"
ALL = model.VariableOption(selected=True, text=["All"], value=["$__all"])
WATCHES = "archlag_watch_poll_interval_seconds"  # one series per watch and instance


def datasource_variable() -> sdk.DatasourceVariable:
    return (
        sdk.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .hide(model.VariableHide.DONT_HIDE)
        .multi(False)
        .include_all(False)
    )


def query_variable(
    name: str, label: str, metric: str, label_name: str, *, multi: bool = True
) -> sdk.QueryVariable:
    """A ``label_values(metric, label)`` variable; multi-select ones default to All (``.*``)."""
    variable = (
        sdk.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(f"label_values({metric}, {label_name})")
        .hide(model.VariableHide.DONT_HIDE)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)  # so new tags show up
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(multi)
    )
    return variable.all_value(".*").current(ALL) if multi else variable


def process_variables() -> list[sdk.QueryVariable]:
    """``job`` and ``instance``: which archlag deployments, and which of their processes."""
    return [
        query_variable("job", "Job", "archlag_build_info", "job"),
        query_variable("instance", "Instance", 'archlag_build_info{job=~"$job"}', "instance"),
    ]


def repository_variables(*, multi: bool = True) -> list[sdk.QueryVariable]:
    """``job``, ``instance``, ``registry`` and ``repository``, each narrowed by the ones before."""
    scope = 'job=~"$job", instance=~"$instance"'
    return [
        *process_variables(),
        query_variable("registry", "Registry", f"{WATCHES}{{{scope}}}", "registry", multi=multi),
        query_variable(
            "repository",
            "Repository",
            f'{WATCHES}{{{scope}, registry=~"$registry"}}',
            "repository",
            multi=multi,
        ),
    ]


def dashboard(
    *,
    uid: str,
    title: str,
    description: str,
    variables: Iterable[sdk.QueryVariable],
    layout: Layout,
    time_from: str = "now-24h",
) -> sdk.Dashboard:
    board = (
        sdk.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .editable()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .timezone("")
        .time(time_from, "now")
        .refresh("1m")
        .annotations([])
        .link(
            sdk.DashboardLink("archlag dashboards")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
        .with_variable(datasource_variable())
    )
    for variable in variables:
        board = board.with_variable(variable)
    for panel in layout.panels:
        board = board.with_panel(panel)
    return board


def render(board: sdk.Dashboard) -> str:
    """The dashboard as committed: Grafana's classic JSON model, keys sorted."""
    return JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False).encode(board.build()) + "\n"
