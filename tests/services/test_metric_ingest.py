"""Metric ingest stores every value and key exactly as logged, on every database."""

from __future__ import annotations

import math

import pytest
from django.db import connection

from experiments.models import Workspace
from experiments.selectors.runs import metric_history, run_details
from experiments.services.runs import MetricPoint, run_log_batch
from tests.factories import make_experiment, make_run

VALUES = [
    0.1,
    -0.0,
    1e-310,  # subnormal
    5e-324,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    math.inf,
    -math.inf,
    123456789.123456789,
    2.0**53 + 1,
]


# A batch with an infinity is written out by repr(), one without by orjson (_numbers_literal).
@pytest.mark.parametrize(
    "values", [VALUES, [v for v in VALUES if math.isfinite(v)]], ids=["infinities", "finite"]
)
@pytest.mark.django_db(transaction=True)
def test_values_round_trip_exactly(workspace: Workspace, values: list[float]) -> None:
    run = make_run(make_experiment(workspace))
    points = [MetricPoint("v", value, 1000 + i, i) for i, value in enumerate(values)]
    points.append(MetricPoint("v", math.nan, 5000, 99))
    run_log_batch(run=run, metrics=points)
    rows, _ = metric_history(run=run, key="v")
    stored = [math.nan if is_nan else value for value, _ts, _step, is_nan in rows]
    assert stored[:-1] == values
    assert math.isnan(stored[-1])
    if connection.vendor == "postgresql":
        # SQLite stores integral reals as integers and so loses the sign of -0.0.
        assert [math.copysign(1, v) for v in stored[:2]] == [1, -1]


@pytest.mark.django_db(transaction=True)
def test_keys_with_spaces_colons_slashes_and_unicode(workspace: Workspace) -> None:
    run = make_run(make_experiment(workspace))
    keys = ["train/loss", "val acc", "a:b", "métrique", "x.y-z_1", "日本語"]
    run_log_batch(run=run, metrics=[MetricPoint(key, 1.0, 1, 0) for key in keys])
    assert sorted(m.key for m in run_details(run).metrics) == sorted(keys)
    for key in keys:
        assert len(metric_history(run=run, key=key)[0]) == 1


@pytest.mark.django_db(transaction=True)
def test_latest_value_follows_step_then_timestamp_then_value(workspace: Workspace) -> None:
    run = make_run(make_experiment(workspace))
    run_log_batch(run=run, metrics=[MetricPoint("m", 5.0, 10, 3), MetricPoint("m", 1.0, 99, 2)])
    run_log_batch(run=run, metrics=[MetricPoint("m", 7.0, 5, 3)])  # same step, older
    run_log_batch(run=run, metrics=[MetricPoint("m", 2.0, 10, 3)])  # same step and time, lower
    (latest,) = run_details(run).metrics
    assert (latest.value, latest.timestamp, latest.step) == (5.0, 10, 3)
    run_log_batch(run=run, metrics=[MetricPoint("m", -1.0, 1, 4)])  # higher step wins
    (latest,) = run_details(run).metrics
    assert (latest.value, latest.step) == (-1.0, 4)
