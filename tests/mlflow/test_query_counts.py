"""Database round trips of the hot MLflow endpoints: they must not grow with the data.

Sent through Django's test client, in process, so that django_assert_num_queries sees every
statement (BEGIN and COMMIT of a write included). Every call first authenticates: the caller's
key with its user (one query); the workspace query that follows also reads their role in it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from experiments.models import MetricHistory, Workspace
from experiments.services.metrics import MetricRow, metrics_insert
from experiments.tracking import tracking_uri
from tests.factories import make_experiment, make_run


def _api(workspace: Workspace) -> str:
    path = "/" + tracking_uri("http://testserver", workspace).split("/", 3)[3]
    return f"{path}/api/2.0/mlflow"


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    response = client.post(url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content[:500]
    return response.json()


AUTH_QUERIES = 1


def _signed_in(workspace: Workspace, api_key: str) -> Client:
    """A client that sends `owner`'s key, after a first call (which records when the key was
    last used: a write once a minute, not counted below)."""
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    response = client.get(f"{_api(workspace)}/experiments/get", {"experiment_id": "0"})
    assert response.status_code == 200, response.content[:500]
    return client


def _points(count: int, key: str = "m", first_step: int = 0) -> list[dict[str, Any]]:
    return [
        {"key": key, "value": step / 3, "timestamp": 1_000 + step, "step": step}
        for step in range(first_step, first_step + count)
    ]


@pytest.mark.postgres_only
def test_log_batch_takes_the_same_statements_for_one_point_and_a_thousand(
    workspace: Workspace, api_key: str, django_assert_num_queries: Any
) -> None:
    """A batch of new points stored as chunks, or of points of distinct keys: one round trip,
    authentication included (run_log_batch_at_once). Any other batch stored as point rows:
    authentication, BEGIN, the workspace and the run with their holds (one query), one round
    trip for the history, the latest values and the rollups, COMMIT."""
    run = make_run(make_experiment(workspace))
    url = f"{_api(workspace)}/runs/log-batch"
    client = _signed_in(workspace, api_key)
    # Batches of each path and replays prepare every statement of the paths on this connection.
    warm_up = [(2, "a"), (2, "a"), (1, "b"), (1000, "c"), (1000, "c")]
    for count, key in warm_up:
        _post(client, url, {"run_id": run.uuid, "metrics": _points(count, key)})
    with django_assert_num_queries(AUTH_QUERIES + 4):
        _post(client, url, {"run_id": run.uuid, "metrics": _points(2, "n", 0)})
    # mlflow.log_metrics: one point per key.
    with django_assert_num_queries(1):
        _post(client, url, {"run_id": run.uuid, "metrics": _points(1, "m", 0) + _points(1, "n", 2)})
    for first_step in (1, 1001):
        with django_assert_num_queries(1):
            _post(client, url, {"run_id": run.uuid, "metrics": _points(1000, "m", first_step)})
    # A replayed batch: the one round trip finds that its points may be stored already and
    # stores nothing; the usual way's chunks refuse it too, and its point rows fall back to ON
    # CONFLICT: four statements more, still not per point.
    with django_assert_num_queries(1 + AUTH_QUERIES + 8):
        _post(client, url, {"run_id": run.uuid, "metrics": _points(1000, "m", 500)})
    assert run.latest_metrics.get(key="m").step == 2000
    history = MetricHistory.objects.filter(run_id=run.pk, key="m")
    assert sorted(history.values_list("step", flat=True)) == list(range(2001))


def _seed(workspace: Workspace, runs: int) -> str:
    experiment = make_experiment(workspace)
    for index in range(runs):
        run = make_run(experiment, run_name=f"run-{index}")
        run.params.create(key="model", value="cnn")
        run.tags.create(key="team", value="a")
        with transaction.atomic():
            metrics_insert(
                run_pk=run.pk,
                rows=[
                    MetricRow("accuracy", 1, 0, index / runs, False),
                    MetricRow("loss", 1, 0, 1.0, False),
                ],
            )
    return str(experiment.pk)


@pytest.mark.parametrize("runs", [1, 25])
def test_search_runs_reads_a_page_in_four_queries(
    workspace: Workspace, api_key: str, django_assert_num_queries: Any, runs: int
) -> None:
    """Workspace, experiment ids, the page, and everything the page's runs carry."""
    experiment_id = _seed(workspace, runs)
    body = {
        "experiment_ids": [experiment_id],
        "filter": "metrics.accuracy >= 0 AND params.model = 'cnn'",
        "order_by": ["metrics.accuracy DESC"],
    }
    client = _signed_in(workspace, api_key)
    with django_assert_num_queries(AUTH_QUERIES + 4):
        found = _post(client, f"{_api(workspace)}/runs/search", body)["runs"]
    assert [run["info"]["run_name"] for run in found] == [
        f"run-{index}" for index in reversed(range(runs))
    ]
    assert found[0]["data"]["params"] == [{"key": "model", "value": "cnn"}]
    assert [metric["key"] for metric in found[0]["data"]["metrics"]] == ["accuracy", "loss"]


def test_get_run_takes_three_queries(
    workspace: Workspace, api_key: str, django_assert_num_queries: Any
) -> None:
    experiment_id = _seed(workspace, 1)
    client = _signed_in(workspace, api_key)
    (run,) = _post(client, f"{_api(workspace)}/runs/search", {"experiment_ids": [experiment_id]})[
        "runs"
    ]
    # The first call on a connection prepares the run's lookup (prepared.py).
    client.get(f"{_api(workspace)}/runs/get", {"run_id": run["info"]["run_id"]})
    with django_assert_num_queries(AUTH_QUERIES + 3):
        response = client.get(f"{_api(workspace)}/runs/get", {"run_id": run["info"]["run_id"]})
    assert response.json()["run"] == run


@pytest.mark.postgres_only
def test_log_metric_takes_one_round_trip(
    workspace: Workspace, api_key: str, django_assert_num_queries: Any
) -> None:
    """Authentication and the run held, then checked and written, sent together
    (run_log_metric_at_once); an API key's use is written the usual way first (_signed_in)."""
    run = make_run(make_experiment(workspace))
    body = {"run_id": run.uuid, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0}
    client = _signed_in(workspace, api_key)
    url = f"{_api(workspace)}/runs/log-metric"
    # The first call on a connection prepares the write path's statements (prepared.py).
    _post(client, url, {**body, "key": "warm-up"})
    with django_assert_num_queries(1) as captured:
        _post(client, url, body)
    (write,) = captured.captured_queries
    assert write["sql"].startswith("EXECUTE"), write
    assert write["sql"].count("; EXECUTE") == 1, write
    latest = run.latest_metrics.get(key="loss")
    assert (latest.value, latest.step, latest.timestamp) == (0.5, 0, 1)
