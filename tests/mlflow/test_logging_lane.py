"""LoggingLane: log-metric and log-batch answered before the page middleware, behind the
checks every request passes (host, HTTPS redirect), with MLflow's errors."""

from __future__ import annotations

import os
from typing import Any

import psycopg2
import pytest
import requests
from django.db import connection
from django.test import Client, override_settings
from mlflow import MlflowClient

from experiments.models import MetricHistory, Run

pytestmark = pytest.mark.postgres_only  # at_once, which the lane serves, is PostgreSQL's

POINT = {"key": "loss", "value": 0.5, "timestamp": 1_700_000_000_000, "step": 1}


def _post(url: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        url,
        json=body,
        headers={"Authorization": f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"},
        timeout=60,
    )


def _points(run_id: str) -> int:
    return MetricHistory.objects.filter(run_id=Run.objects.get(uuid=run_id).pk).count()


def test_a_logging_call_skips_the_page_middleware(tracking: str, client: MlflowClient) -> None:
    run_id = client.create_run("0").info.run_id
    batch = {
        "run_id": run_id,
        "metrics": [{**POINT, "key": f"m{i % 4}", "step": i} for i in range(1000)],
    }
    for call, body in (("log-metric", {"run_id": run_id, **POINT}), ("log-batch", batch)):
        response = _post(f"{tracking}/api/2.0/mlflow/runs/{call}", body)
        assert (response.status_code, response.json()) == (200, {})
        # XFrameOptionsMiddleware, last of the page middleware, marks every answer it sees.
        assert "X-Frame-Options" not in response.headers, call
    assert _points(run_id) == 1001
    # A call at_once does not take goes through all of it to the view.
    usual = _post(f"{tracking}/api/2.0/mlflow/runs/log-metric", {"run_id": run_id, "key": "x"})
    assert usual.status_code == 400
    assert usual.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert usual.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("changed", "host", "status"),
    [
        pytest.param({"ALLOWED_HOSTS": ["portal.example"]}, "elsewhere.example", 400, id="host"),
        pytest.param({"SECURE_SSL_REDIRECT": True}, "testserver", 301, id="https-redirect"),
    ],
)
def test_a_logging_call_passes_the_checks_of_every_request(
    tracking: str, client: MlflowClient, changed: dict[str, Any], host: str, status: int
) -> None:
    run_id = client.create_run("0").info.run_id
    path = tracking.split("://", 1)[1].split("/", 1)[1]
    with override_settings(**changed):
        response = Client().post(
            f"/{path}/api/2.0/mlflow/runs/log-metric",
            {"run_id": run_id, **POINT},
            content_type="application/json",
            headers={
                "Authorization": f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}",
                "Host": host,
            },
        )
    assert response.status_code == status
    assert _points(run_id) == 0


def test_a_database_error_in_the_lane_answers_503_and_keeps_nothing(
    tracking: str, client: MlflowClient
) -> None:
    """The point's insert waits for a lock until the server gives up (lock_timeout)."""
    run_id = client.create_run("0").info.run_id
    cfg = connection.settings_dict
    blocker = psycopg2.connect(dbname=cfg["NAME"], user=cfg["USER"], host=cfg["HOST"])
    try:
        with blocker.cursor() as cursor:
            cursor.execute("LOCK TABLE experiments_metric IN ACCESS EXCLUSIVE MODE")
        response = _post(f"{tracking}/api/2.0/mlflow/runs/log-metric", {"run_id": run_id, **POINT})
    finally:
        blocker.rollback()
        blocker.close()
    assert response.status_code == 503
    assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert _points(run_id) == 0
    # The client's retry stores it.
    client.log_metric(run_id, "loss", 0.5, timestamp=POINT["timestamp"], step=1)
    assert _points(run_id) == 1
