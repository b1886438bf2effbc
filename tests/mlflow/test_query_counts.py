"""Database round trips of the hot MLflow endpoints: they must not grow with the data.

Sent through Django's test client, in process, so that django_assert_num_queries sees every
statement (BEGIN and COMMIT of a write included).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from experiments.models import Workspace
from experiments.tracking import tracking_uri
from tests.factories import make_experiment, make_run


def _api(workspace: Workspace) -> str:
    path = "/" + tracking_uri("http://testserver", workspace).split("/", 3)[3]
    return f"{path}/api/2.0/mlflow"


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    response = client.post(url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content[:500]
    return response.json()


def _points(count: int, key: str = "m", first_step: int = 0) -> list[dict[str, Any]]:
    return [
        {"key": key, "value": step / 3, "timestamp": 1_000 + step, "step": step}
        for step in range(first_step, first_step + count)
    ]


@pytest.mark.postgres_only
def test_log_batch_takes_the_same_statements_for_one_point_and_a_thousand(
    workspace: Workspace, django_assert_num_queries: Any
) -> None:
    """Workspace, BEGIN, its hold, the run with its hold, one round trip for the history, the
    latest values and the rollups, COMMIT."""
    run = make_run(make_experiment(workspace))
    url = f"{_api(workspace)}/runs/log-batch"
    client = Client()
    for first_step, count in ((0, 1), (1, 1000), (1001, 1000)):
        with django_assert_num_queries(6):
            _post(client, url, {"run_id": run.uuid, "metrics": _points(count, "m", first_step)})
    # A replayed batch falls back to ON CONFLICT: three statements more, still not per point.
    with django_assert_num_queries(9):
        _post(client, url, {"run_id": run.uuid, "metrics": _points(1000, "m", 500)})
    assert run.latest_metrics.get().step == 2000
