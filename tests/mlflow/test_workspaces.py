"""Workspaces: isolation between tracking URIs, MLflow's native workspace selection at the site
root (X-MLFLOW-WORKSPACE, mlflow.set_workspace, MLFLOW_WORKSPACE) and its workspace API."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import requests
from django.apps import apps as django_apps
from django.contrib.auth.models import User
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from experiments.choices import Role
from experiments.models import Experiment, Workspace
from experiments.tracking import tracking_uri
from tests.factories import grant, make_workspace

ARTIFACTS = "api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
def other(live_server, workspace: Workspace, owner: User) -> str:  # noqa: ANN001
    """The tracking URI of a second workspace, next to `workspace` (`owner` owns both)."""
    second = make_workspace()
    grant(owner, Role.OWNER, workspace=second)
    return tracking_uri(live_server.url, second)


@pytest.fixture
def root(live_server, tracking: str) -> Iterator[str]:  # noqa: ANN001
    """The mlflow client pointed at the site root, where MLflow's workspace header applies."""
    mlflow.set_tracking_uri(live_server.url)
    yield live_server.url
    mlflow.set_workspace(None)


def _code(call: object) -> str:
    with pytest.raises(MlflowException) as raised:
        call()  # type: ignore[operator]
    return raised.value.error_code


def test_nothing_of_one_workspace_is_reachable_through_another(
    tracking: str, other: str, client: MlflowClient, tmp_path: Path
) -> None:
    # given: an experiment, a run and an artifact in the first workspace
    experiment_id = client.create_experiment("private")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_metric("acc", 1.0)
        mlflow.log_text("secret", "secret.txt")
    run_id = run.info.run_id
    outsider = MlflowClient(other)
    # then: invisible to reads
    assert _code(lambda: outsider.get_run(run_id)) == "RESOURCE_DOES_NOT_EXIST"
    assert _code(lambda: outsider.get_experiment(experiment_id)) == "RESOURCE_DOES_NOT_EXIST"
    assert outsider.get_experiment_by_name("private") is None
    assert outsider.search_runs([experiment_id]) == []
    assert [e.name for e in outsider.search_experiments()] == ["Default"]
    assert _code(lambda: outsider.get_metric_history(run_id, "acc")) == "RESOURCE_DOES_NOT_EXIST"
    assert _code(lambda: outsider.list_artifacts(run_id)) == "RESOURCE_DOES_NOT_EXIST"
    assert (
        _code(lambda: outsider.download_artifacts(run_id, "secret.txt", str(tmp_path)))
        == "RESOURCE_DOES_NOT_EXIST"
    )
    # then: untouchable by writes
    assert _code(lambda: outsider.log_metric(run_id, "acc", 2.0)) == "RESOURCE_DOES_NOT_EXIST"
    assert _code(lambda: outsider.set_tag(run_id, "k", "v")) == "RESOURCE_DOES_NOT_EXIST"
    assert _code(lambda: outsider.delete_run(run_id)) == "RESOURCE_DOES_NOT_EXIST"
    assert _code(lambda: outsider.create_run(experiment_id)) == "RESOURCE_DOES_NOT_EXIST"
    assert (
        _code(lambda: outsider.rename_experiment(experiment_id, "stolen"))
        == "RESOURCE_DOES_NOT_EXIST"
    )
    assert _code(lambda: outsider.delete_experiment(experiment_id)) == "RESOURCE_DOES_NOT_EXIST"
    # then: the artifact proxy of the other workspace neither serves nor accepts the files
    path = f"{experiment_id}/{run_id}/artifacts"
    download = requests.get(f"{other}/{ARTIFACTS}/{path}/secret.txt", timeout=30)
    assert download.status_code == 404
    assert download.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    listing = requests.get(f"{other}/{ARTIFACTS}", params={"path": path}, timeout=30)
    assert listing.status_code == 404
    assert listing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    upload = requests.put(f"{other}/{ARTIFACTS}/{path}/secret.txt", data=b"overwritten")
    assert upload.status_code == 404
    removal = requests.delete(f"{other}/{ARTIFACTS}/{path}/secret.txt", timeout=30)
    assert removal.status_code == 404
    # and the first workspace still has everything, unchanged
    owner = client.get_run(run_id)
    assert owner.data.metrics == {"acc": 1.0}
    assert owner.info.lifecycle_stage == "active"
    assert mlflow.artifacts.load_text(f"{owner.info.artifact_uri}/secret.txt") == "secret"
    assert client.get_experiment(experiment_id).name == "private"


def test_same_experiment_name_in_two_workspaces(
    tracking: str, other: str, client: MlflowClient
) -> None:
    outsider = MlflowClient(other)
    mine = client.create_experiment("shared-name")
    theirs = outsider.create_experiment("shared-name")
    assert mine != theirs
    client.create_run(mine, run_name="my-run")
    assert outsider.search_runs([theirs]) == []
    assert outsider.get_experiment_by_name("shared-name").experiment_id == theirs
    # "0" is each workspace's own Default experiment.
    with mlflow.start_run() as run:
        pass
    assert client.get_run(run.info.run_id).info.experiment_id == "0"
    assert outsider.search_runs(["0"]) == []


def test_server_info_announces_workspaces(root: str) -> None:
    response = requests.get(f"{root}/api/3.0/mlflow/server-info", timeout=30)
    assert response.status_code == 200
    assert response.json()["workspaces_enabled"] is True


def test_set_workspace_at_the_root_tracks_into_that_workspace(
    root: str, workspace: Workspace, other: str, client: MlflowClient
) -> None:
    # given: a tracking URI without workspace, and MLflow's workspace selection
    mlflow.set_workspace(workspace.name)
    # when
    experiment = mlflow.set_experiment("through-header")
    with mlflow.start_run() as run:
        mlflow.log_param("p", "1")
        mlflow.log_text("via header", "note.txt")
    # then: the artifact went through the root's proxy with the header
    assert mlflow.artifacts.load_text(f"{run.info.artifact_uri}/note.txt") == "via header"
    # then: the workspace's own tracking URI sees it all (the selection applies to every
    # client of the process, and a header contradicting a workspace URI is refused)
    mlflow.set_workspace(None)
    stored = client.get_run(run.info.run_id)
    assert stored.info.experiment_id == experiment.experiment_id
    assert stored.data.params == {"p": "1"}
    assert client.list_artifacts(run.info.run_id)[0].path == "note.txt"
    assert MlflowClient(other).get_experiment_by_name("through-header") is None


def test_mlflow_workspace_environment_variable(
    root: str, workspace: Workspace, client: MlflowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_WORKSPACE", workspace.name)
    experiment_id = MlflowClient(root).create_experiment("through-env")
    assert client.get_experiment(experiment_id).name == "through-env"


def test_header_selects_the_workspace(
    root: str, workspace: Workspace, client: MlflowClient, tracking: str
) -> None:
    # given
    client.create_experiment("only-here")
    url = f"{root}/api/2.0/mlflow/experiments/get-by-name"
    query = {"experiment_name": "only-here"}
    # when / then
    mine = requests.get(url, params=query, headers={"X-MLFLOW-WORKSPACE": workspace.name})
    assert mine.status_code == 200
    assert mine.json()["experiment"]["name"] == "only-here"
    theirs = make_workspace()
    elsewhere = requests.get(url, params=query, headers={"X-MLFLOW-WORKSPACE": theirs.name})
    assert elsewhere.status_code == 404
    assert elsewhere.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    unknown = requests.get(url, params=query, headers={"X-MLFLOW-WORKSPACE": "no-such-ws"})
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # A header naming another workspace than the tracking URI is a contradiction.
    clash = requests.get(
        f"{tracking}/api/2.0/mlflow/experiments/get-by-name",
        params=query,
        headers={"X-MLFLOW-WORKSPACE": theirs.name},
    )
    assert clash.status_code == 400
    assert clash.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_root_without_workspace_uses_the_default_workspace(root: str, owner: User) -> None:
    # given: the `default` workspace as migration 0002 creates it. The database of
    # transactional tests is emptied between tests, so the migration's data step runs again.
    migration = importlib.import_module("experiments.migrations.0002_default_workspace")
    migration.create_default_workspace(django_apps, None)
    default = Workspace.objects.select_related("resource_group").get(name="default")
    grant(owner, Role.CONTRIBUTOR, workspace=default)
    # when
    root_client = MlflowClient(root)
    experiment_id = root_client.create_experiment("at-the-root")
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 1.0)
    # then
    assert root_client.get_experiment("0").name == "Default"
    assert Experiment.objects.get(name="at-the-root").workspace_id == default.pk
    assert run.info.experiment_id == "0"
    default_client = MlflowClient(tracking_uri(root, default))
    assert default_client.get_experiment(experiment_id).name == "at-the-root"
    assert default_client.get_run(run.info.run_id).data.metrics == {"m": 1.0}


def test_root_without_default_workspace_says_what_to_do(root: str) -> None:
    with pytest.raises(MlflowException) as raised:
        MlflowClient(root).get_experiment("0")
    assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert "MLFLOW_WORKSPACE" in raised.value.message


def test_workspace_api_of_the_client(root: str, admin_signed_in: str) -> None:
    # when
    created = mlflow.create_workspace("native-ws", description="made by the client")
    # then
    assert created.name == "native-ws"
    assert mlflow.get_workspace("native-ws").description == "made by the client"
    assert "native-ws" in [w.name for w in mlflow.list_workspaces()]
    updated = mlflow.update_workspace("native-ws", description="changed")
    assert updated.description == "changed"
    assert mlflow.get_workspace("native-ws").description == "changed"
    with pytest.raises(MlflowException) as raised:
        mlflow.create_workspace("native-ws")
    assert raised.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as raised:
        mlflow.get_workspace("not-there")
    assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    # A workspace made through the API works like any other.
    mlflow.set_workspace("native-ws")
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 1.0)
    assert MlflowClient(root).get_run(run.info.run_id).data.metrics == {"m": 1.0}
    # It holds a run now: MLflow's default RESTRICT deletion refuses it.
    mlflow.set_workspace(None)
    with pytest.raises(MlflowException) as raised:
        mlflow.delete_workspace("native-ws")
    assert raised.value.error_code == "RESOURCE_CONFLICT"
    # An empty one goes.
    mlflow.create_workspace("empty-ws")
    mlflow.delete_workspace("empty-ws")
    assert "empty-ws" not in [w.name for w in mlflow.list_workspaces()]
