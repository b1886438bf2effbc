"""Metric history pages: every point exactly once, in MLflow's order, however it is paged."""

from __future__ import annotations

import math

import pytest

from experiments.errors import InvalidInput
from experiments.models import Workspace
from experiments.selectors.runs import metric_history
from experiments.services.runs import MetricPoint, run_log_batch
from tests.factories import make_experiment, make_run


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 50])
def test_pages_cover_the_history_once_in_order(workspace: Workspace, page_size: int) -> None:
    run = make_run(make_experiment(workspace))
    # Ties on timestamp and step, a NaN among them, and points out of order.
    points = [
        MetricPoint("m", 3.0, 10, 1),
        MetricPoint("m", 1.0, 10, 1),
        MetricPoint("m", math.nan, 10, 1),
        MetricPoint("m", 2.0, 5, 9),
        MetricPoint("m", -math.inf, 20, 0),
        MetricPoint("m", 0.5, 10, 0),
    ]
    run_log_batch(run=run, metrics=points)
    everything, token = metric_history(run=run, key="m")
    assert token is None
    paged, token = [], None
    while True:
        page, token = metric_history(run=run, key="m", max_results=page_size, page_token=token)
        assert len(page) <= page_size
        paged.extend(page)
        if token is None:
            break
    assert paged == everything
    assert [(ts, step) for _v, ts, step, _n in paged] == [
        (5, 9), (10, 0), (10, 1), (10, 1), (10, 1), (20, 0),
    ]  # fmt: skip


@pytest.mark.django_db
def test_garbage_page_token_is_invalid_input(workspace: Workspace) -> None:
    run = make_run(make_experiment(workspace))
    with pytest.raises(InvalidInput):
        metric_history(run=run, key="m", max_results=10, page_token="not-a-token")
