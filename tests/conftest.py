from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.core.servers.basehttp import WSGIRequestHandler

from experiments.models import Workspace
from experiments.tracking import tracking_uri
from tests.factories import make_workspace

# The live server writes a response's headers and body separately. With Nagle's algorithm on,
# every request on the mlflow client's keep-alive session then waits for the client's delayed
# ACK (about 40 ms), which makes the suite several times slower than the server is.
WSGIRequestHandler.disable_nagle_algorithm = True


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
    # Set the URI first: without one the client would create ./mlflow.db while resetting.
    mlflow.set_tracking_uri(uri)
    _reset_mlflow_client()
    yield uri
    _reset_mlflow_client()


@pytest.fixture
def client(tracking: str):  # noqa: ANN201
    import mlflow

    return mlflow.MlflowClient(tracking)
