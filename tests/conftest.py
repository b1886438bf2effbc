from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from django.test import Client

from experiments.models import Workspace
from experiments.tracking import tracking_uri
from tests.factories import make_workspace
from tests.workers import CeleryWorker, purge_queue


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        skip = pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL)")
        for item in items:
            if "postgres_only" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def workspace(transactional_db: None) -> Workspace:
    return make_workspace()


def _reset_mlflow_client() -> None:
    import mlflow
    from mlflow.tracking import fluent

    mlflow.flush_async_logging()
    while mlflow.active_run() is not None:
        mlflow.end_run()
    fluent._active_experiment_id = None
    fluent._last_active_run_id.set(None)
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    os.environ.pop("MLFLOW_EXPERIMENT_NAME", None)
    os.environ.pop("MLFLOW_WORKSPACE", None)
    mlflow.set_workspace(None)


@pytest.fixture
def tracking(live_server, workspace: Workspace) -> Iterator[str]:  # noqa: ANN001
    """The real mlflow client pointed at `workspace` on a live server; yields the tracking URI."""
    import mlflow

    uri = tracking_uri(live_server.url, workspace)
    _reset_mlflow_client()
    mlflow.set_tracking_uri(uri)
    yield uri
    _reset_mlflow_client()


@pytest.fixture
def client(tracking: str):  # noqa: ANN201
    import mlflow

    return mlflow.MlflowClient(tracking)


@pytest.fixture
def celery_workers(transactional_db: None) -> Iterator[Callable[..., CeleryWorker]]:
    """Start real Celery workers: `celery_workers(**env)` returns a started worker. All are
    stopped at the end of the test (before the test database is flushed)."""
    started: list[CeleryWorker] = []
    purge_queue()

    def start(**environment: str) -> CeleryWorker:
        worker = CeleryWorker(**environment).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        # The test is over: no need to wait for a warm shutdown (seconds on the filesystem
        # broker); stale messages a killed worker leaves behind are harmless.
        worker.kill()


@pytest.fixture
def web_client() -> Client:
    """Django's test client for the pages and the portal API (`client` is the mlflow one)."""
    return Client()
