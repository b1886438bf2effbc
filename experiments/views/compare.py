"""The compare view: metrics of many runs in overlaid charts, grouped means, parallel
coordinates and a param/metric scatter. The page holds the controls; the charts come from
`compare_data`, a JSON endpoint called with the page's own query string.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from plotly.io.json import to_json_plotly

from experiments import charts
from experiments.errors import InvalidInput
from experiments.models import LatestMetric, Param, Run, Workspace
from experiments.selectors.metrics import Series, XAxis, metric_series
from experiments.selectors.portal import runs_by_ids, runs_keys, workspace_get
from experiments.views.common import (
    bool_parameter,
    choice_parameter,
    float_parameter,
    json_endpoint,
    list_parameter,
    page,
)

MAX_RUNS = 500
MAX_METRICS = 30
DEFAULT_METRICS = 12
# Points per chart, shared by its traces: a trace gets at most MAX_TRACE_POINTS.
CHART_POINTS = 40_000
MAX_TRACE_POINTS = 4_000
MIN_TRACE_POINTS = 100
PARALLEL_PARAMS = 8
X_AXES = {axis.value: axis for axis in XAxis}


@dataclass
class Selection:
    """What the query string asks to compare, validated."""

    workspace: Workspace
    runs: list[Run]
    metric_keys: list[str]
    param_keys: list[str]
    metrics: list[str]
    options: charts.ChartOptions
    group_by: str
    scatter_param: str
    scatter_metric: str

    def color(self, index: int) -> str:
        return charts.color_for(index)


def _selection(request: HttpRequest, group: str, workspace: str) -> Selection:
    ws = workspace_get(user=request.user, group=group, name=workspace)
    run_ids = list_parameter(request, "runs")
    if not run_ids:
        raise InvalidInput("Pick at least one run to compare (?runs=<run id>,<run id>...).")
    if len(run_ids) > MAX_RUNS:
        raise InvalidInput(
            f"{len(run_ids):,} runs were picked; the compare view shows at most {MAX_RUNS}."
        )
    runs = runs_by_ids(workspace=ws, run_ids=run_ids)
    param_keys, metric_keys = runs_keys(runs=runs)
    metrics = list_parameter(request, "metrics") or metric_keys[:DEFAULT_METRICS]
    if len(metrics) > MAX_METRICS:
        raise InvalidInput(f"{len(metrics)} metrics were picked; at most {MAX_METRICS} are drawn.")
    options = charts.ChartOptions(
        x_axis=choice_parameter(request, "x", X_AXES, "step", label="x axis"),
        smoothing=float_parameter(request, "smooth", 0.0, low=0.0, high=0.99, label="smoothing"),
        log_y=bool_parameter(request, "log"),
        hide_outliers=bool_parameter(request, "outliers"),
    )
    group_by = request.GET.get("group", "").strip()
    if group_by and group_by not in param_keys:
        raise InvalidInput(f"No picked run has a param '{group_by[:100]}' to group by.")
    scatter_param = request.GET.get("sx", "").strip() or (param_keys[0] if param_keys else "")
    scatter_metric = request.GET.get("sy", "").strip() or (metrics[0] if metrics else "")
    return Selection(
        ws,
        runs,
        metric_keys,
        param_keys,
        metrics,
        options,
        group_by,
        scatter_param,
        scatter_metric,
    )


@page
def compare(request: HttpRequest, group: str, workspace: str) -> HttpResponse:
    selection = _selection(request, group, workspace)
    experiments = {run.experiment_id: run.experiment for run in selection.runs}
    return render(
        request,
        "experiments/compare.html",
        {
            "workspace": selection.workspace,
            "group": selection.workspace.resource_group,
            "experiment": next(iter(experiments.values())) if len(experiments) == 1 else None,
            "selection": selection,
            "runs": [(run, selection.color(i)) for i, run in enumerate(selection.runs)],
            "run_ids": ",".join(run.uuid for run in selection.runs),
            "x_axes": list(X_AXES),
        },
    )


def _points_per_trace(run_count: int) -> int:
    share = CHART_POINTS // max(run_count, 1)
    return max(MIN_TRACE_POINTS, min(MAX_TRACE_POINTS, share))


def _traces(selection: Selection, series: dict[int, Series]) -> list[charts.Trace]:
    traces = []
    for index, run in enumerate(selection.runs):
        points = series.get(run.pk)
        if points is None:
            continue
        x: Any = points.x
        if selection.options.x_axis == "relative":
            x = (points.x - run.start_time) / 1000.0
        traces.append(
            charts.Trace(
                run_id=run.uuid,
                name=run.name or run.uuid[:8],
                x=np.asarray(x),
                y=points.values,
                color=selection.color(index),
                count=points.count,
                sampled=points.sampled,
            )
        )
    return traces


def _run_values(
    selection: Selection, params: list[str], metrics: list[str]
) -> list[charts.RunValues]:
    pks = [run.pk for run in selection.runs]
    param_values: dict[int, dict[str, str]] = defaultdict(dict)
    for run_pk, key, value in Param.objects.filter(run_id__in=pks, key__in=params).values_list(
        "run_id", "key", "value"
    ):
        param_values[run_pk][key] = value
    metric_values: dict[int, dict[str, float]] = defaultdict(dict)
    for run_pk, key, value, is_nan in LatestMetric.objects.filter(
        run_id__in=pks, key__in=metrics
    ).values_list("run_id", "key", "value", "is_nan"):
        metric_values[run_pk][key] = math.nan if is_nan else value
    return [
        charts.RunValues(
            run.uuid,
            run.name or run.uuid[:8],
            selection.color(index),
            param_values[run.pk],
            metric_values[run.pk],
        )
        for index, run in enumerate(selection.runs)
    ]


def _varying_params(values: list[charts.RunValues], keys: list[str]) -> list[str]:
    varying = [k for k in keys if len({v.params.get(k) for v in values}) > 1]
    return (varying or keys)[:PARALLEL_PARAMS]


@json_endpoint
def compare_data(request: HttpRequest, group: str, workspace: str) -> HttpResponse:
    selection = _selection(request, group, workspace)
    group_values: dict[str, str] = {}
    if selection.group_by:
        group_values = dict(
            Param.objects.filter(
                run_id__in=[run.pk for run in selection.runs], key=selection.group_by
            ).values_list("run__uuid", "value")
        )
    series = metric_series(
        runs=selection.runs,
        keys=selection.metrics,
        x_axis=XAxis(selection.options.x_axis),
        max_points=_points_per_trace(len(selection.runs)),
    )
    result_charts = []
    for key in selection.metrics:
        traces = _traces(selection, series[key])
        if selection.group_by:
            grouped: dict[str, list[charts.Trace]] = defaultdict(list)
            for trace in traces:
                label = group_values.get(trace.run_id)
                grouped[
                    f"{selection.group_by}={label}" if label is not None else "(no value)"
                ].append(trace)
            figure = charts.group_chart(key, sorted(grouped.items()), selection.options)
        else:
            figure = charts.metric_chart(key, traces, selection.options)
        result_charts.append(
            {
                "metric": key,
                "figure": figure,
                "traces": len(figure["data"]),
                "sampled": sum(1 for t in traces if t.sampled),
            }
        )
    values = _run_values(selection, selection.param_keys, selection.metrics[:4])
    parallel = (
        charts.parallel_chart(
            values, _varying_params(values, selection.param_keys), selection.metrics[:4]
        )
        if len(selection.runs) > 1 and (selection.param_keys or selection.metrics)
        else None
    )
    scatter = None
    if selection.scatter_param and selection.scatter_metric:
        scatter_values = values
        if (
            selection.scatter_metric not in selection.metrics[:4]
            or selection.scatter_param not in selection.param_keys
        ):
            scatter_values = _run_values(
                selection, [selection.scatter_param], [selection.scatter_metric]
            )
        scatter = charts.scatter_chart(
            scatter_values, selection.scatter_param, selection.scatter_metric
        )
    payload = {"charts": result_charts, "parallel": parallel, "scatter": scatter}
    return HttpResponse(to_json_plotly(payload), content_type="application/json")
