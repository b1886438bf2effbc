"""Ordering runs by metrics, params and tags: values, then NaN, then runs without the key."""

from __future__ import annotations

import math

import pytest

from experiments.selectors.search import runs_search
from experiments.services.runs import MetricPoint, run_log_batch
from tests.factories import make_experiment, make_run, make_workspace

pytestmark = pytest.mark.django_db


def test_order_by_metric_param_and_tag_with_nan_and_missing() -> None:
    # given
    experiment = make_experiment(make_workspace())
    runs = {}
    for name, loss, lr in (
        ("a", 1.0, "0.2"),
        ("b", 3.0, None),
        ("c", math.nan, "0.1"),
        ("d", None, "0.3"),
    ):
        run = make_run(experiment, run_name=name, start_time=1)
        run_log_batch(
            run=run,
            metrics=[MetricPoint("loss", loss, 1, 0)] if loss is not None else [],
            params=[("lr", lr)] if lr is not None else [],
            tags=[("team", name.upper())] if name != "c" else [],
        )
        runs[name] = run

    def order(*clauses: str) -> list[str]:
        found, _ = runs_search(
            workspace=experiment.workspace, experiment_pks=[experiment.pk], order_by=clauses
        )
        return [run.name for run in found]

    # then
    assert order("metrics.loss ASC") == ["a", "b", "c", "d"]
    assert order("metrics.loss DESC") == ["b", "a", "c", "d"]
    assert order("params.lr ASC") == ["c", "a", "d", "b"]
    assert order("params.lr DESC") == ["d", "a", "c", "b"]
    assert order("tags.team DESC") == ["d", "b", "a", "c"]
    assert order("params.lr ASC", "metrics.loss DESC") == ["c", "a", "d", "b"]
    # a page after the first keeps the order
    second, _ = runs_search(
        workspace=experiment.workspace,
        experiment_pks=[experiment.pk],
        order_by=["metrics.loss DESC"],
        max_results=2,
        page_token=runs_search(
            workspace=experiment.workspace,
            experiment_pks=[experiment.pk],
            order_by=["metrics.loss DESC"],
            max_results=2,
        )[1],
    )
    assert [run.name for run in second] == ["c", "d"]
