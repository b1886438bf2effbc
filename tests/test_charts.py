"""Figure building: pure functions from series to Plotly figure dicts."""

from __future__ import annotations

import base64
import math

import numpy as np
import plotly.graph_objects as go
import pytest

from experiments import charts


def values(array: object) -> np.ndarray:
    """A typed array as the chart JSON carries it (base64), decoded."""
    assert isinstance(array, dict)
    return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])


def trace(name: str, y: list[float], **kwargs: object) -> charts.Trace:
    return charts.Trace(
        run_id=name, name=name, x=np.arange(len(y)), y=np.array(y, dtype=float),
        color="#1f77b4", count=len(y), **kwargs,
    )  # fmt: skip


def test_metric_chart_marks_sampled_traces_and_escapes_names() -> None:
    figure = charts.metric_chart(
        "loss",
        [trace("<b>a</b>", [1, 2]), trace("b", [3, 4], sampled=True)],
        charts.ChartOptions(),
    )
    names = [t["name"] for t in figure["data"]]
    assert names == ["&lt;b&gt;a&lt;/b&gt;", "b" + charts.SAMPLED_MARK]
    assert "downsampled" in figure["layout"]["annotations"][0]["text"]


def test_smoothing_is_debiased_ema() -> None:
    values = np.array([1.0, 1.0, 1.0, math.inf, 3.0])
    smoothed = charts.smooth(values, 0.5)
    assert smoothed[:3].tolist() == [1.0, 1.0, 1.0]
    assert smoothed[3] == math.inf
    assert 1.0 < smoothed[4] < 3.0
    assert charts.smooth(values, 0).tolist() == values.tolist()


def test_a_chart_of_many_runs_has_no_legend() -> None:
    few = [trace(f"r{i}", [1.0, 2.0]) for i in range(charts.LEGEND_MAX_TRACES)]
    figure = charts.metric_chart("loss", few, charts.ChartOptions())
    assert figure["layout"].get("showlegend") is None  # plotly.js decides, as for any chart
    figure = charts.metric_chart("loss", [*few, trace("one more", [3.0])], charts.ChartOptions())
    assert figure["layout"]["showlegend"] is False
    assert len(figure["data"]) == charts.LEGEND_MAX_TRACES + 1
    groups = [(f"g{i}", [trace(f"r{i}", [1.0, 2.0])]) for i in range(charts.LEGEND_MAX_TRACES)]
    figure = charts.group_chart("loss", groups, charts.ChartOptions())
    assert figure["layout"].get("showlegend") is None
    groups.append(("one more", [trace("r", [3.0, 4.0])]))
    figure = charts.group_chart("loss", groups, charts.ChartOptions())
    assert figure["layout"]["showlegend"] is False


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.9, 0.99])
@pytest.mark.parametrize(
    "lengths",
    [[20] * 500, [1, 0, 7, 30, 30, 2] * 20, [4000] * 3, [3000, 5, 5], [], [0, 0]],
    ids=["many short", "ragged", "few long", "one long", "none", "empty"],
)
def test_smoothing_many_series_at_once_equals_one_at_a_time(
    weight: float, lengths: list[int]
) -> None:
    rng = np.random.default_rng(len(lengths))
    series = []
    for length in lengths:
        values = rng.normal(0, 10, length)
        values[rng.random(length) < 0.05] = np.nan
        values[rng.random(length) < 0.02] = -np.inf
        series.append(values)
    together = charts.smooth_all(series, weight)
    assert len(together) == len(series)
    for values, smoothed in zip(series, together, strict=True):
        np.testing.assert_array_equal(smoothed, charts.smooth(values, weight))


def test_outlier_range_ignores_the_extreme_percent() -> None:
    values = np.concatenate([np.linspace(0, 1, 1000), [1e9]])
    low, high = charts.outlier_range([values])
    assert low < 0.02
    assert high < 2
    assert charts.outlier_range([np.array([1.0])]) is None


def test_log_scale_and_hidden_outliers_set_the_axis() -> None:
    options = charts.ChartOptions(log_y=True, hide_outliers=True, x_axis="time")
    figure = charts.metric_chart("m", [trace("a", list(np.linspace(1, 100, 50)))], options)
    layout = figure["layout"]
    assert layout["yaxis"]["type"] == "log"
    assert layout["xaxis"]["type"] == "date"
    assert layout["yaxis"]["range"][1] <= 2.1  # log10 of ~100


def test_group_chart_mean_and_band() -> None:
    groups = [("lr=0.1", [trace("a", [0.0, 2.0]), trace("b", [2.0, 4.0])])]
    figure = charts.group_chart("loss", groups, charts.ChartOptions())
    upper, lower, mean = figure["data"]
    assert lower["fill"] == "tonexty"
    assert mean["name"] == "lr=0.1 (2 runs)"
    assert values(upper["y"])[[0, -1]].tolist() == [2.0, 4.0]
    assert values(lower["y"])[[0, -1]].tolist() == [0.0, 2.0]
    assert values(mean["y"])[[0, -1]].tolist() == [1.0, 3.0]


def test_parallel_and_scatter_handle_numbers_and_categories() -> None:
    runs = [
        charts.RunValues("1", "one", "#000000", {"lr": "0.1", "opt": "adam"}, {"acc": 0.5}),
        charts.RunValues("2", "two", "#000000", {"lr": "0.2", "opt": "<sgd>"}, {}),
    ]
    parallel = charts.parallel_chart(runs, ["lr", "opt"], ["acc"])
    dimensions = parallel["data"][0]["dimensions"]
    assert [d["label"] for d in dimensions] == ["params.lr", "params.opt", "acc"]
    assert dimensions[1]["ticktext"] == ["&lt;sgd&gt;", "adam"]
    scatter = charts.scatter_chart(runs, "opt", "acc")
    assert scatter["layout"]["xaxis"]["type"] == "category"
    assert list(scatter["data"][0]["x"]) == ["adam", "&lt;sgd&gt;"]


def test_keys_in_chart_labels_are_shown_as_text() -> None:
    key = "<a href=x>k</a>%{y}"
    shown = "&lt;a href=x&gt;k&lt;/a&gt;%&#123;y&#125;"
    runs = [charts.RunValues("1", "one", "#000000", {key: "0.1"}, {key: 0.5})]
    parallel = charts.parallel_chart(runs, [key], [key])
    assert [d["label"] for d in parallel["data"][0]["dimensions"]] == [f"params.{shown}", shown]
    scatter = charts.scatter_chart(runs, key, key)
    layout = scatter["layout"]
    assert layout["title"]["text"] == f"{shown} by params.{shown}"
    assert layout["xaxis"]["title"]["text"] == f"params.{shown}"
    assert layout["yaxis"]["title"]["text"] == f"{shown} (final value)"
    assert scatter["data"][0]["hovertemplate"] == (
        f"%{{text}}<br>{shown}: %{{x}}<br>{shown}: %{{y}}<extra></extra>"
    )


@pytest.mark.parametrize(
    "options",
    [charts.ChartOptions(), charts.ChartOptions(x_axis="time", smoothing=0.5, hide_outliers=True)],
)
def test_every_chart_is_valid_for_plotly(options: charts.ChartOptions) -> None:
    # The line charts' traces are built as dicts for speed: plotly's schema checks them here.
    traces = [trace("a", [1.0, 2.0, 3.0]), trace("b", [2.0]), trace("c", [1.0, 4.0], sampled=True)]
    runs = [charts.RunValues("1", "one", "#000000", {"lr": "0.1"}, {"acc": 0.5})]
    figures = [
        charts.metric_chart("loss", traces, options),
        charts.group_chart("loss", [("lr=0.1", traces[:2]), ("lr=0.2", traces[2:])], options),
        charts.parallel_chart(runs, ["lr"], ["acc"]),
        charts.scatter_chart(runs, "lr", "acc"),
    ]
    for figure in figures:
        assert go.Figure(figure).to_plotly_json()["data"]
