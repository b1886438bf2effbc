from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.servers.basehttp import WSGIRequestHandler

from experiments.choices import Role
from experiments.models import Workspace
from experiments.tracking import tracking_uri
from tests.factories import grant, make_api_key, make_user, make_workspace

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


@pytest.fixture
def owner(workspace: Workspace) -> User:
    """The user the `tracking` client logs as: Owner of `workspace`."""
    user = make_user("owner")
    grant(user, Role.OWNER, workspace=workspace)
    return user


@pytest.fixture
def api_key(owner: User) -> str:
    return make_api_key(owner)


@pytest.fixture
def auth_headers(api_key: str) -> dict[str, str]:
    """Headers for raw HTTP calls to the MLflow API as `owner`."""
    return {"Authorization": f"Bearer {api_key}"}


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


def _sign_in_raw_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Raw `requests` calls in a test sign in as the tracking client does.

    Tests send malformed bodies and odd paths with `requests` next to the real client; they
    carry MLFLOW_TRACKING_TOKEN like the client unless they set Authorization themselves.
    """
    import requests

    original = requests.Session.request

    def request(self: requests.Session, method: str, url: str, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", None) or {})
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        if token and "Authorization" not in headers and "auth" not in kwargs:
            headers["Authorization"] = f"Bearer {token}"
        return original(self, method, url, headers=headers, **kwargs)

    monkeypatch.setattr(requests.Session, "request", request)


@pytest.fixture
def tracking(
    live_server: Any, workspace: Workspace, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The real mlflow client pointed at `workspace` on a live server, signed in as `owner`
    through MLFLOW_TRACKING_TOKEN; yields the tracking URI."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", api_key)
    _sign_in_raw_requests(monkeypatch)
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
