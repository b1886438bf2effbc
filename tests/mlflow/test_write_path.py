"""The write path under faults: a database outage answers 503 (which the client retries) and
leaves nothing half-written; replaying the same request stores nothing twice."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import connection
from django.test import Client
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from bench.servers import free_port
from experiments.models import LatestMetric, MetricHistory, Param, Run, RunTag, Workspace
from tests.factories import make_experiment, make_run
from tests.servers import gunicorn_portal

BATCH = {
    "metrics": [
        {"key": f"m{i % 10}", "value": i * 0.5, "timestamp": 1_700_000_000_000 + i, "step": i}
        for i in range(500)
    ]
    + [{"key": "nan", "value": "NaN", "timestamp": 1, "step": 0}],
    "params": [{"key": f"p{i}", "value": str(i)} for i in range(20)],
    "tags": [{"key": f"t{i}", "value": "x"} for i in range(20)],
}


def _stored(run: Run) -> tuple[int, int, int, int]:
    return (
        MetricHistory.objects.filter(run_id=run.pk).count(),
        LatestMetric.objects.filter(run=run).count(),
        Param.objects.filter(run=run).count(),
        RunTag.objects.filter(run=run).exclude(key__startswith="mlflow.").count(),
    )


def _post_batch(tracking: str, run_id: str) -> requests.Response:
    return requests.post(
        f"{tracking}/api/2.0/mlflow/runs/log-batch",
        json={"run_id": run_id, **BATCH},
        headers={"Authorization": f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"},
        timeout=60,
    )


def test_replayed_batch_stores_everything_once(tracking: str, client: MlflowClient) -> None:
    run_id = client.create_run("0").info.run_id
    run = Run.objects.get(uuid=run_id)
    # when the client resends a batch it already delivered (a lost response, a retry)
    for _ in range(3):
        response = _post_batch(tracking, run_id)
        assert response.status_code == 200, response.text
    # then
    assert _stored(run) == (501, 11, 20, 20)


@pytest.mark.postgres_only
def test_outage_mid_batch_answers_503_and_keeps_nothing(
    tracking: str, client: MlflowClient
) -> None:
    """The server's database connection dies while the batch is half written."""
    import psycopg2

    run_id = client.create_run("0").info.run_id
    run = Run.objects.get(uuid=run_id)
    settings = connection.settings_dict
    blocker = psycopg2.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
    )
    blocker.autocommit = False
    result: dict[str, requests.Response] = {}
    try:
        with blocker.cursor() as cursor:
            # Params and tags can be written; the metric insert (of chunks, for this batch)
            # will wait on this lock.
            cursor.execute(
                "LOCK TABLE experiments_metric, experiments_metricchunk IN ACCESS EXCLUSIVE MODE"
            )
        sender = threading.Thread(target=lambda: result.update(r=_post_batch(tracking, run_id)))
        sender.start()
        victim = None
        deadline = time.monotonic() + 20
        observer = psycopg2.connect(
            dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"]
        )
        # Statistics views are a snapshot per transaction: poll outside of one (and so not in
        # `with observer:`, which opens a transaction even in autocommit mode).
        observer.autocommit = True
        with closing(observer), observer.cursor() as cursor:
            while victim is None and time.monotonic() < deadline:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
                    [settings["NAME"]],
                )
                row = cursor.fetchone()
                victim = row[0] if row else None
                time.sleep(0.05)
            assert victim is not None, "the batch never reached the metric insert"
            # when the database drops the server's connection mid-transaction
            cursor.execute("SELECT pg_terminate_backend(%s)", [victim])
        sender.join(timeout=30)
    finally:
        blocker.rollback()
        blocker.close()
    # then the client is told to retry, and nothing of the batch was kept
    response = result["r"]
    assert response.status_code == 503
    assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert _stored(run) == (0, 0, 0, 0)
    # and the client's retry stores the batch exactly once
    assert _post_batch(tracking, run_id).status_code == 200
    assert _stored(run) == (501, 11, 20, 20)


def test_locked_database_answers_503_and_keeps_nothing(tracking: str, client: MlflowClient) -> None:
    """Another writer holds the database: the request gives up with 503, not 500."""
    run_id = client.create_run("0").info.run_id
    run = Run.objects.get(uuid=run_id)
    if connection.vendor == "sqlite":
        blocker = sqlite3.connect(connection.settings_dict["NAME"], timeout=1)
        blocker.execute("BEGIN EXCLUSIVE")
        release = blocker.rollback
    else:
        import psycopg2

        cfg = connection.settings_dict
        blocker = psycopg2.connect(dbname=cfg["NAME"], user=cfg["USER"], host=cfg["HOST"])
        cursor = blocker.cursor()
        cursor.execute("LOCK TABLE experiments_param IN ACCESS EXCLUSIVE MODE")
        release = blocker.rollback
    try:
        response = _post_batch(tracking, run_id)
    finally:
        release()
        blocker.close()
    assert response.status_code == 503
    assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert _stored(run) == (0, 0, 0, 0)


@pytest.fixture
def server_without_database(tmp_path: Path) -> Iterator[str]:
    """A portal process whose database cannot be reached at all."""
    if connection.vendor == "sqlite":
        database_url = f"sqlite:///{tmp_path}/missing-folder/portal.sqlite3"
    else:
        database_url = f"postgres://postgres@127.0.0.1:{free_port()}/portal"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    with gunicorn_portal(env) as url:
        yield url


def test_unreachable_database_answers_503_to_the_client(
    server_without_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = requests.post(
        f"{server_without_database}/api/2.0/mlflow/runs/create",
        json={"experiment_id": "0"},
        headers={"Authorization": "Bearer pak_anything"},
        timeout=30,
    )
    assert response.status_code == 503
    assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    # The real client treats it as transient: it retries, then reports the 503s.
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "pak_anything")
    client = MlflowClient(server_without_database)
    with pytest.raises(MlflowException, match="too many 503 error responses"):
        client.get_experiment_by_name("anything")


@pytest.mark.postgres_only
@pytest.mark.parametrize("call", ["log-batch", "log-metric"])
def test_a_connection_that_died_while_idle_is_replaced_before_it_fails_a_request(
    workspace: Workspace, api_key: str, call: str
) -> None:
    """The first statement of a request stands in for Django's connection health check
    (endpoint._first_statement): a connection the database dropped between two requests must
    still cost the client nothing, not even a retried 503. A log-metric's first statement is
    its whole write (endpoint's at_once)."""
    import psycopg2

    from experiments.tracking import tracking_uri

    run = make_run(make_experiment(workspace))
    # In process, on this thread's connection, as a server thread reuses its own.
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    path = "/" + tracking_uri("http://testserver", workspace).split("/", 3)[3]
    url = f"{path}/api/2.0/mlflow/runs/{call}"

    def post(step: int) -> Any:
        point = {"key": "m", "value": 1.0, "timestamp": 1, "step": step}
        body = {"run_id": run.uuid, **({"metrics": [point]} if call == "log-batch" else point)}
        return client.post(url, data=json.dumps(body), content_type="application/json")

    assert post(0).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    settings = connection.settings_dict
    killer = psycopg2.connect(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"])
    killer.autocommit = True
    with closing(killer), killer.cursor() as cursor:
        # when the database drops the connection while it is idle
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone() is None:
                break
            time.sleep(0.02)
    # and the next request starts on it (Django resets this at the end of every request; the
    # test client leaves the test's connection alone)
    connection.health_check_done = False
    response = post(1)

    # then it succeeds at once, on a new connection
    assert response.status_code == 200, response.content[:500]
    assert sorted(MetricHistory.objects.filter(run_id=run.pk).values_list("step", flat=True)) == [
        0,
        1,
    ]
