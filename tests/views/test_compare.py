"""The compare view and its chart JSON."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from experiments.models import Run, Workspace
from experiments.services.runs import MetricPoint, run_log_batch
from experiments.views import compare as compare_views
from tests.factories import make_experiment, make_run, make_workspace

pytestmark = pytest.mark.django_db(transaction=True)
T0 = 1_700_000_000_000


def address(workspace: Workspace, name: str = "compare-data") -> str:
    return reverse(f"experiments:{name}", args=[workspace.resource_group.name, workspace.name])


@pytest.fixture
def runs() -> list[Run]:
    experiment = make_experiment(make_workspace(), "cmp")
    runs = []
    for index, lr in enumerate(("0.1", "0.1", "0.01", "0.01")):
        run = make_run(experiment, run_name=f"r{index}", start_time=T0)
        points = 5000 if index == 0 else 100
        metrics = [
            MetricPoint("loss", 100.0 if step == 2222 else 1.0 / (step + 1), T0 + step * 10, step)
            for step in range(points)
        ]
        for start in range(0, len(metrics), 999):
            run_log_batch(run=run, metrics=metrics[start : start + 999])
        run_log_batch(
            run=run,
            metrics=[MetricPoint("acc", 0.5 + index / 10, T0, 0)],
            params=[("lr", lr), ("opt", "sgd" if index % 2 else "adam")],
        )
        runs.append(run)
    return runs


def trace_values(array: dict | list) -> np.ndarray:
    """A trace's numbers, sent as a typed array (base64) or a list."""
    if isinstance(array, list):
        return np.array(array, dtype=np.float64)
    return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])


def fetch(web: Client, runs: list[Run], **query: str) -> dict:
    response = web.get(
        address(runs[0].workspace), {"runs": ",".join(r.uuid for r in runs), **query}
    )
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def test_a_chart_per_metric_with_a_trace_per_run(web: Client, runs: list[Run]) -> None:
    body = fetch(web, runs, metrics="loss,acc")
    assert [chart["metric"] for chart in body["charts"]] == ["loss", "acc"]
    loss = body["charts"][0]
    assert loss["traces"] == 4
    names = [trace["name"] for trace in loss["figure"]["data"]]
    assert names == ["r0 ·sampled", "r1", "r2", "r3"]
    assert loss["sampled"] == 1
    sampled = loss["figure"]["data"][0]
    # numeric arrays travel as typed arrays (base64)
    assert set(sampled["y"]) == {"dtype", "bdata"}
    assert body["parallel"]["data"][0]["type"] == "parcoords"
    assert body["scatter"]["data"][0]["type"] == "scatter"


def test_x_axes_smoothing_log_and_outliers(web: Client, runs: list[Run]) -> None:
    step = fetch(web, runs, metrics="loss")["charts"][0]["figure"]["layout"]
    assert step["xaxis"]["title"]["text"] == "Step"
    time = fetch(web, runs, metrics="loss", x="time")["charts"][0]["figure"]["layout"]
    assert time["xaxis"]["type"] == "date"
    relative = fetch(web, runs, metrics="loss", x="relative", smooth="0.9", log="1", outliers="1")
    layout = relative["charts"][0]["figure"]["layout"]
    assert layout["xaxis"]["title"]["text"] == "Relative time (s)"
    assert layout["yaxis"]["type"] == "log"
    assert len(layout["yaxis"]["range"]) == 2


def test_group_by_a_param_draws_mean_and_band_per_group(web: Client, runs: list[Run]) -> None:
    chart = fetch(web, runs, metrics="loss", group="lr")["charts"][0]
    data = chart["figure"]["data"]
    assert chart["traces"] == 6  # two groups: max edge, min edge with fill, mean
    means = [t["name"] for t in data if t.get("showlegend") is not False]
    assert means == ["lr=0.01 (2 runs)", "lr=0.1 (2 runs)"]
    assert [t.get("fill") for t in data][:3] == [None, "tonexty", None]


def test_payload_stays_small_for_long_series(
    web: Client, runs: list[Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compare_views, "MAX_TRACE_POINTS", 500)
    response = web.get(address(runs[0].workspace), {"runs": runs[0].uuid, "metrics": "loss"})
    trace = json.loads(response.content)["charts"][0]["figure"]["data"][0]
    assert trace["name"].endswith("·sampled")
    assert len(response.content) < 12_000


def test_compare_page_lists_runs_and_controls(web: Client, runs: list[Run]) -> None:
    response = web.get(
        address(runs[0].workspace, "compare"), {"runs": [runs[0].uuid, runs[1].uuid]}
    )
    html = response.content.decode()
    assert "Compare 2 runs" in html
    assert f'value="{runs[0].uuid},{runs[1].uuid}"' in html
    assert 'option value="relative"' in html


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ({"runs": ""}, 400, "Pick at least one run"),
        ({"runs": "nothex"}, 400, "not run ids"),
        ({"runs": "0" * 32}, 404, "No such runs"),
        ({"x": "sideways"}, 400, "x axis must be one of"),
        ({"smooth": "2"}, 400, "smoothing must be between"),
        ({"smooth": "nan"}, 400, "smoothing must be between"),
        ({"group": "nope"}, 400, "to group by"),
        ({"metrics": ",".join(f"m{i}" for i in range(31))}, 400, "at most 30"),
    ],
)
def test_bad_requests_get_a_4xx_and_a_message(
    web: Client, runs: list[Run], query: dict[str, str], status: int, message: str
) -> None:
    params = {"runs": runs[0].uuid, **query}
    for name in ("compare-data", "compare"):
        response = web.get(address(runs[0].workspace, name), params)
        assert response.status_code == status
        assert message in response.content.decode()


def test_too_many_runs_are_refused(web: Client, runs: list[Run]) -> None:
    many = ",".join(f"{i:032x}" for i in range(501))
    response = web.get(address(runs[0].workspace), {"runs": many})
    assert response.status_code == 400
    assert "at most 500" in json.loads(response.content)["error"]


def test_runs_of_another_workspace_are_unknown(web: Client, runs: list[Run]) -> None:
    other = make_workspace()
    response = web.get(address(other), {"runs": runs[0].uuid})
    assert response.status_code == 404


def test_query_count_does_not_grow_with_metrics(
    web: Client, runs: list[Run], django_assert_max_num_queries: Any
) -> None:
    # given: twelve more metrics on every run
    for index, run in enumerate(runs):
        run_log_batch(
            run=run, metrics=[MetricPoint(f"m{k}", k * 10 + index, T0, 0) for k in range(12)]
        )
    fetch(web, runs, metrics="loss")  # warm: sessions, caches
    with django_assert_max_num_queries(1000) as one_metric:
        fetch(web, runs, metrics="loss")
    # when: thirteen metrics are drawn
    metrics = ["loss"] + [f"m{k}" for k in range(12)]
    with django_assert_max_num_queries(len(one_metric.captured_queries)):
        body = fetch(web, runs, metrics=",".join(metrics))
    # then: in as many queries as one metric, each chart with its own metric's values
    assert [chart["metric"] for chart in body["charts"]] == metrics
    for k in range(12):
        traces = body["charts"][k + 1]["figure"]["data"]
        assert [trace_values(trace["y"]).tolist() for trace in traces] == [
            [k * 10 + index] for index in range(len(runs))
        ]
