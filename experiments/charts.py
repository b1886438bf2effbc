"""Plotly figures of the portal, built from plain data: pure functions, no I/O.

Each function returns a figure as a dict (`Figure.to_plotly_json()`), with numpy arrays left
in place so the JSON encoder sends them as typed arrays (base64), a third of the size of
decimal text. The page hands the dict to plotly.js unchanged.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go

# Colour per run, in selection order, the same in every chart of a page.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#ad494a",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
)
SAMPLED_MARK = " ·sampled"
X_TITLES = {"step": "Step", "time": "Wall time", "relative": "Relative time (s)"}
GROUP_GRID_POINTS = 400
# A chart of more runs (or groups) than this draws no legend: the compare page lists the runs
# with their colors, hovering a line names its run, and plotly.js took longer to lay out a
# legend of 500 runs than to draw their lines (0.85-1.3 s against 0.5 s a chart in Chromium).
LEGEND_MAX_TRACES = 20
# A small explicit style instead of plotly's default template, which adds ~10 KB to every
# figure of a page that may draw thirty.
AXIS_STYLE = {"gridcolor": "#e3e6ec", "zerolinecolor": "#c9ced8", "linecolor": "#c9ced8"}
STYLE: dict[str, Any] = {
    "template": "none",
    "paper_bgcolor": "white",
    "plot_bgcolor": "#f7f8fb",
    "font": {"family": "system-ui, sans-serif", "size": 12, "color": "#1d2330"},
    "colorway": list(PALETTE),
}
MAX_CATEGORIES = 50


@dataclass(frozen=True)
class Trace:
    """One run's series of one metric, sorted by x."""

    run_id: str
    name: str
    x: npt.NDArray[Any]
    y: npt.NDArray[np.float64]
    color: str
    # Points stored and whether fewer are drawn (min/max per bucket).
    count: int = 0
    sampled: bool = False


@dataclass(frozen=True)
class ChartOptions:
    x_axis: str = "step"
    smoothing: float = 0.0
    log_y: bool = False
    hide_outliers: bool = False


@dataclass(frozen=True)
class RunValues:
    """A run's params and final metric values, for the parallel-coordinates and scatter charts."""

    run_id: str
    name: str
    color: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def plotly_text(value: str) -> str:
    """Text shown literally by plotly.js, which reads names and labels as a subset of HTML."""
    return html.escape(value, quote=False).replace("{", "&#123;").replace("}", "&#125;")


def color_for(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def smooth(values: npt.NDArray[np.float64], weight: float) -> npt.NDArray[np.float64]:
    """Exponential moving average with TensorBoard's debiasing; NaN and inf pass through."""
    if weight <= 0 or len(values) == 0:
        return values
    out = np.empty_like(values)
    last, count = 0.0, 0
    for index, value in enumerate(values.tolist()):
        if not math.isfinite(value):
            out[index] = value
            continue
        last = last * weight + (1 - weight) * value
        count += 1
        out[index] = last / (1 - weight**count)
    return out


def smooth_all(
    series: Sequence[npt.NDArray[np.float64]], weight: float
) -> list[npt.NDArray[np.float64]]:
    """`smooth` of each series. Many short series (500 runs of 20 points) are smoothed
    together, a step of all of them at a time: one pass in Python per point of the longest
    instead of per point of each (1.1 ms against 3.4 ms a chart). A few long series go one by
    one, where a step of all of them would cost more than their points."""
    if weight <= 0:
        return list(series)
    lengths = [len(values) for values in series]
    width = max(lengths, default=0)
    if sum(lengths) < _SMOOTH_TOGETHER * width:
        return [smooth(values, weight) for values in series]
    # Point by series, so that each step reads contiguous memory.
    grid = np.full((width, len(series)), np.nan)
    for row, values in enumerate(series):
        grid[: len(values), row] = values
    finite = np.isfinite(grid)
    kept = np.where(finite, grid, 0.0) * (1 - weight)
    averages = np.empty_like(grid)
    last = np.zeros(len(series))
    for step in range(width):
        last = np.where(finite[step], last * weight + kept[step], last)
        averages[step] = last
    # Python's power, as `smooth` takes it: numpy's vectorised one may differ in the last bit.
    powers = np.array([weight**count for count in range(width + 1)])
    with np.errstate(all="ignore"):  # before a series' first finite point: not kept
        debiased = averages / (1 - powers[np.cumsum(finite, axis=0)])
    out = np.where(finite, debiased, grid)
    return [out[:length, row].copy() for row, length in enumerate(lengths)]


# Smooth series together where they have on average this many points per point of the longest
# (measured: about as fast at 20, twice as fast at 40, three times at 100).
_SMOOTH_TOGETHER = 20


def outlier_range(values: Sequence[npt.NDArray[np.float64]]) -> tuple[float, float] | None:
    """A y range that leaves out the most extreme 1% at either end (the data stays drawn)."""
    finite = [v[np.isfinite(v)] for v in values]
    joined = np.concatenate(finite) if finite else np.empty(0)
    if len(joined) < 10:
        return None
    low, high = np.percentile(joined, [1, 99])
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    return float(low - pad), float(high + pad)


def typed_array(values: npt.NDArray[Any]) -> dict[str, str]:
    """plotly.js's typed-array form of a numeric array: its bytes in base64.

    Attached after the figure is built: plotly's validators copy every array they check,
    which cost more than building the rest of a figure of twenty long traces.
    """
    array = np.ascontiguousarray(values)
    return {"dtype": _DTYPES[array.dtype.str[1:]], "bdata": base64.b64encode(array).decode()}


_DTYPES = {
    "f8": "f8",
    "f4": "f4",
    "i4": "i4",
    "u4": "u4",
    "i2": "i2",
    "u2": "u2",
    "i1": "i1",
    "u1": "u1",
}


def _finite(y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # plotly.js cannot place +-inf; NaN leaves a gap where the value is not drawable.
    return np.where(np.isfinite(y), y, np.nan)


def _x_values(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Compact typed arrays: int32 where steps fit, float64 otherwise."""
    if x.dtype.kind in "iu" and (len(x) == 0 or (x.min() >= -(2**31) and x.max() < 2**31)):
        return x.astype(np.int32)
    return x.astype(np.float64)


def _layout(title: str, options: ChartOptions, y_range: tuple[float, float] | None) -> go.Layout:
    title = plotly_text(title)
    yaxis: dict[str, Any] = {"title": {"text": title}, "type": "log" if options.log_y else "linear"}
    if y_range is not None:
        yaxis["range"] = (
            [math.log10(max(y_range[0], 1e-300)), math.log10(max(y_range[1], 1e-300))]
            if options.log_y
            else list(y_range)
        )
    return go.Layout(
        **STYLE,
        # Left, so the sampling note on the right never covers it.
        title={"text": title, "x": 0.01, "xanchor": "left"},
        xaxis={
            **AXIS_STYLE,
            "title": {"text": X_TITLES.get(options.x_axis, options.x_axis)},
            "type": "date" if options.x_axis == "time" else "linear",
        },
        yaxis={**AXIS_STYLE, **yaxis},
        margin={"l": 60, "r": 20, "t": 40, "b": 45},
        hovermode="closest",
        legend={"orientation": "h", "y": -0.2},
        height=360,
    )


def _sampled_note(traces: Sequence[Trace]) -> list[dict[str, Any]]:
    sampled = [t for t in traces if t.sampled]
    if not sampled:
        return []
    return [
        {
            "text": (
                f"{len(sampled)} of {len(traces)} traces downsampled (marked{SAMPLED_MARK}): "
                "min and max of each bucket kept"
            ),
            "xref": "paper",
            "yref": "paper",
            "x": 1,
            "y": 1.02,
            "xanchor": "right",
            "yanchor": "bottom",
            "showarrow": False,
            "font": {"size": 11, "color": "#8a5a00"},
        }
    ]


def _scatter(**properties: Any) -> dict[str, Any]:
    """A scatter trace as plotly.js reads it, built as a dict. plotly's trace objects validate
    every property and copy every array they are given: about 0.5 ms a trace, half the time of a
    compare of 500 runs by 30 metrics. The tests check each trace against plotly's schema."""
    return {"type": "scatter", **properties}


def _figure(data: list[dict[str, Any]], layout: go.Layout) -> dict[str, Any]:
    return {"data": data, "layout": layout.to_plotly_json()}


def metric_chart(metric: str, traces: Sequence[Trace], options: ChartOptions) -> dict[str, Any]:
    """Overlaid lines of one metric, one per run; sampled traces say so in their name."""
    data = []
    drawn = smooth_all([_finite(trace.y) for trace in traces], options.smoothing)
    for trace, y in zip(traces, drawn, strict=True):
        detail = f"{len(trace.y):,} of {trace.count:,} points" if trace.sampled else ""
        data.append(
            _scatter(
                hovertemplate=f"%{{fullData.name}}<br>%{{x}}: %{{y}}<extra>{detail}</extra>",
                line={"color": trace.color, "width": 1.5},
                meta=[trace.run_id],
                mode="lines+markers" if len(trace.x) == 1 else "lines",
                name=plotly_text(trace.name) + (SAMPLED_MARK if trace.sampled else ""),
                x=typed_array(_x_values(trace.x)),
                y=typed_array(y),
            )
        )
    y_range = outlier_range(drawn) if options.hide_outliers else None
    layout = _layout(metric, options, y_range)
    layout.update(annotations=_sampled_note(traces))
    if len(data) > LEGEND_MAX_TRACES:
        layout.update(showlegend=False)
    return _figure(data, layout)


def group_chart(
    metric: str,
    groups: Sequence[tuple[str, Sequence[Trace]]],
    options: ChartOptions,
) -> dict[str, Any]:
    """Per group of runs, the mean line with a band from the min to the max of its runs.

    Runs are compared at common x positions (linear interpolation inside each run's own x
    range); a position outside a run's range does not count for that run.
    """
    data = []
    drawn = []
    everything = [trace for _, traces in groups for trace in traces]
    smoothed = dict(
        zip(
            map(id, everything),
            smooth_all([_finite(trace.y) for trace in everything], options.smoothing),
            strict=True,
        )
    )
    for index, (label, traces) in enumerate(groups):
        usable = [t for t in traces if len(t.x) > 0]
        if not usable:
            continue
        color = color_for(index)
        x_lo = min(float(t.x[0]) for t in usable)
        x_hi = max(float(t.x[-1]) for t in usable)
        grid = np.linspace(x_lo, x_hi, GROUP_GRID_POINTS) if x_hi > x_lo else np.array([x_lo])
        stack = np.full((len(usable), len(grid)), np.nan)
        for row, trace in enumerate(usable):
            xs = trace.x.astype(np.float64)
            ys = smoothed[id(trace)]
            keep = np.isfinite(ys)
            if keep.sum() == 0:
                continue
            inside = (grid >= xs[keep][0]) & (grid <= xs[keep][-1])
            stack[row, inside] = np.interp(grid[inside], xs[keep], ys[keep])
        counted = ~np.all(np.isnan(stack), axis=0)
        grid, stack = grid[counted], stack[:, counted]
        with np.errstate(all="ignore"):
            mean = np.nanmean(stack, axis=0)
            low = np.nanmin(stack, axis=0)
            high = np.nanmax(stack, axis=0)
        drawn += [low, high]
        x = grid.astype(np.float64)
        label = plotly_text(label)
        name = f"{label} ({len(usable)} run{'s' if len(usable) != 1 else ''})"
        band = _transparent(color)
        x = typed_array(x)
        data.append(
            _scatter(
                hoverinfo="skip",
                legendgroup=label,
                line={"color": band, "width": 0},
                mode="lines",
                name=f"{label} max",
                showlegend=False,
                x=x,
                y=typed_array(high),
            )
        )
        data.append(
            _scatter(
                fill="tonexty",
                fillcolor=band,
                hoverinfo="skip",
                legendgroup=label,
                line={"color": band, "width": 0},
                mode="lines",
                name=f"{label} min",
                showlegend=False,
                x=x,
                y=typed_array(low),
            )
        )
        data.append(
            _scatter(
                hovertemplate="%{fullData.name} mean<br>%{x}: %{y}<extra></extra>",
                legendgroup=label,
                line={"color": color, "width": 2},
                mode="lines",
                name=name,
                x=x,
                y=typed_array(mean),
            )
        )
    y_range = outlier_range(drawn) if options.hide_outliers else None
    layout = _layout(metric, options, y_range)
    if options.x_axis == "time":
        # Interpolated positions are not whole milliseconds; the axis still reads as dates.
        layout.update(xaxis={"type": "date"})
    if len(data) // 3 > LEGEND_MAX_TRACES:  # a mean and the two edges of its band per group
        layout.update(showlegend=False)
    return _figure(data, layout)


def _transparent(color: str, alpha: float = 0.2) -> str:
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _as_numbers(values: Sequence[str | None]) -> list[float] | None:
    numbers = []
    for value in values:
        if value is None:
            numbers.append(math.nan)
            continue
        try:
            numbers.append(float(value))
        except ValueError:
            return None
    return numbers


def _dimension(label: str, values: Sequence[str | None]) -> dict[str, Any]:
    numbers = _as_numbers(values)
    if numbers is not None:
        return {"label": label, "values": np.array(numbers, dtype=np.float64)}
    categories = sorted({v if v is not None else "(none)" for v in values})[:MAX_CATEGORIES]
    codes = {category: index for index, category in enumerate(categories)}
    return {
        "label": label,
        "values": np.array(
            [codes.get(v if v is not None else "(none)", math.nan) for v in values],
            dtype=np.float64,
        ),
        "tickvals": list(range(len(categories))),
        "ticktext": [plotly_text(c[:30]) for c in categories],
    }


def parallel_chart(
    runs: Sequence[RunValues], params: Sequence[str], metrics: Sequence[str]
) -> dict[str, Any]:
    """Parallel coordinates: an axis per param and per final metric value, a line per run."""
    dimensions = [
        _dimension(plotly_text(f"params.{p}"), [r.params.get(p) for r in runs]) for p in params
    ]
    for metric in metrics:
        values = np.array([r.metrics.get(metric, math.nan) for r in runs], dtype=np.float64)
        dimensions.append({"label": plotly_text(metric), "values": _finite(values)})
    color_values = dimensions[-1]["values"] if dimensions else np.zeros(len(runs))
    figure = go.Figure(
        data=[
            go.Parcoords(
                dimensions=dimensions,
                line={
                    "color": np.nan_to_num(color_values, nan=float(np.nanmin(color_values)))
                    if len(runs) and np.isfinite(color_values).any()
                    else np.zeros(len(runs)),
                    "colorscale": "Viridis",
                    "showscale": bool(metrics),
                },
            )
        ],
        layout=go.Layout(
            **STYLE,
            title={"text": "Params and final metric values"},
            margin={"l": 70, "r": 70, "t": 100, "b": 30},
            height=420,
        ),
    )
    return figure.to_plotly_json()


def scatter_chart(runs: Sequence[RunValues], param: str, metric: str) -> dict[str, Any]:
    """A param against a final metric value, a point per run."""
    raw = [r.params.get(param) for r in runs]
    numbers = _as_numbers(raw)
    x: Any = (
        np.array(numbers, dtype=np.float64)
        if numbers is not None
        else [plotly_text(v) if v is not None else "(none)" for v in raw]
    )
    y = _finite(np.array([r.metrics.get(metric, math.nan) for r in runs], dtype=np.float64))
    # Keys come from the address (sx, sy) as well as from stored data: shown as text.
    param, metric = plotly_text(param), plotly_text(metric)
    figure = go.Figure(
        data=[
            go.Scatter(
                x=x,
                y=y,
                mode="markers",
                text=[plotly_text(r.name) for r in runs],
                meta=[r.run_id for r in runs],
                marker={"size": 10, "color": [r.color for r in runs]},
                hovertemplate="%{text}<br>" + f"{param}: %{{x}}<br>{metric}: %{{y}}<extra></extra>",
                name=metric,
            )
        ],
        layout=go.Layout(
            **STYLE,
            title={"text": f"{metric} by params.{param}"},
            xaxis={
                **AXIS_STYLE,
                "title": {"text": f"params.{param}"},
                "type": "linear" if numbers is not None else "category",
            },
            yaxis={**AXIS_STYLE, "title": {"text": f"{metric} (final value)"}},
            margin={"l": 60, "r": 20, "t": 40, "b": 45},
            height=360,
        ),
    )
    return figure.to_plotly_json()
