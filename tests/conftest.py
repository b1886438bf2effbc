from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.servers.basehttp import WSGIRequestHandler
from django.test import Client

from experiments.choices import Role
from experiments.models import Workspace
from experiments.tracking import tracking_uri
from tests.factories import grant, make_api_key, make_user, make_workspace
from tests.servers import gunicorn_portal
from tests.workers import CeleryWorker, purge_queue, worker_environment

# The live server writes a response's headers and body separately. With Nagle's algorithm on,
# every request on the mlflow client's keep-alive session then waits for the client's delayed
# ACK (about 40 ms), which makes the suite several times slower than the server is.
WSGIRequestHandler.disable_nagle_algorithm = True


@pytest.fixture(autouse=True)
def _fresh_artifact_root(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each test stores artifacts in a folder of its own.

    Emptying the database between tests lets primary keys, and with them the workspaces/<pk>
    artifact prefixes, be used again; files of an earlier test must not show up in a later one.
    """
    artifacts = settings.STORAGES["artifacts"]
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {
            **artifacts,
            "OPTIONS": {**artifacts["OPTIONS"], "location": str(tmp_path_factory.mktemp("art"))},
        },
    }


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


def _sign_in(monkeypatch: pytest.MonkeyPatch, key: str) -> str:
    """MLFLOW_TRACKING_TOKEN is `key`, and HTTP calls in the test carry it.

    Tests send malformed bodies and odd paths with `requests` (and tests/mlflow/raw_http.py)
    next to the real client; they sign in like the client unless they set Authorization
    themselves.
    """
    import requests

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", key)
    original = requests.Session.request

    def request(self: requests.Session, method: str, url: str, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", None) or {})
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        if token and "Authorization" not in headers and "auth" not in kwargs:
            headers["Authorization"] = f"Bearer {token}"
        return original(self, method, url, headers=headers, **kwargs)

    monkeypatch.setattr(requests.Session, "request", request)
    return key


@pytest.fixture
def signed_in(api_key: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's HTTP calls and mlflow client act as `owner` (returns the API key)."""
    return _sign_in(monkeypatch, api_key)


@pytest.fixture
def admin_signed_in(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's HTTP calls and mlflow client act as a superuser (returns the API key)."""
    return _sign_in(monkeypatch, make_api_key(make_user("admin", superuser=True)))


@pytest.fixture
def tracking(live_server: Any, workspace: Workspace, signed_in: str) -> Iterator[str]:
    """The real mlflow client pointed at `workspace` on a live server, signed in as `owner`
    through MLFLOW_TRACKING_TOKEN; yields the tracking URI."""
    yield from _client_at(tracking_uri(live_server.url, workspace))


@pytest.fixture
def gunicorn_tracking(workspace: Workspace, signed_in: str) -> Iterator[str]:
    """As `tracking`, with the portal under gunicorn (as production serves it) instead of
    Django's live test server; yields the tracking URI."""
    with gunicorn_portal(worker_environment()) as url:
        yield from _client_at(tracking_uri(url, workspace))


def _client_at(uri: str) -> Iterator[str]:
    import mlflow

    # Set the URI first: without one the client would create ./mlflow.db while resetting.
    mlflow.set_tracking_uri(uri)
    _reset_mlflow_client()
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
def web_client(db: None) -> Client:
    """Django's test client for the pages and the portal API (`client` is the mlflow one),
    signed in as an administrator; access rules have tests of their own."""
    web = Client()
    web.force_login(make_user("web-admin", superuser=True))
    return web
