"""Who may do what through the MLflow API: credentials, roles, token scope."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import mlflow
import pytest
import requests
from django.contrib.auth.models import User
from django.utils import timezone
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from experiments.choices import Role
from experiments.models import ApiKey, ResourceGroup, TrackingToken, Workspace
from experiments.services.access import api_key_create, api_key_revoke, tracking_token_create
from experiments.tracking import tracking_uri
from tests.factories import (
    grant,
    make_api_key,
    make_experiment,
    make_run,
    make_user,
    make_workspace,
)


def _get(url: str, token: str | None, **params: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, params=params, headers=headers, timeout=30)


def _post(url: str, token: str | None, body: dict[str, Any]) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(url, json=body, headers=headers, timeout=30)


@pytest.fixture
def uri(live_server: Any, workspace: Workspace) -> str:
    return tracking_uri(live_server.url, workspace)


def test_missing_credentials_get_401_unauthenticated(uri: str) -> None:
    response = _get(f"{uri}/api/2.0/mlflow/experiments/get", None, experiment_id="0")
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("token", ["pak_wrong", "ptt_wrong", "garbage", ""])
def test_invalid_credentials_get_401(uri: str, token: str) -> None:
    response = requests.get(
        f"{uri}/api/2.0/mlflow/experiments/get",
        params={"experiment_id": "0"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"


def test_a_key_records_when_it_was_last_used(uri: str, owner: User, api_key: str) -> None:
    key = ApiKey.objects.get(user=owner)
    assert key.last_used_at is None
    assert _get(f"{uri}/api/2.0/mlflow/experiments/get", api_key, experiment_id="0").ok
    key.refresh_from_db()
    assert timezone.now() - key.last_used_at < timedelta(seconds=30)
    # Within a minute the record is not written again; after it, it is.
    used = timezone.now() - timedelta(seconds=20)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=used)
    assert _get(f"{uri}/api/2.0/mlflow/experiments/get", api_key, experiment_id="0").ok
    key.refresh_from_db()
    assert key.last_used_at == used
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=used - timedelta(minutes=5))
    assert _get(f"{uri}/api/2.0/mlflow/experiments/get", api_key, experiment_id="0").ok
    key.refresh_from_db()
    assert timezone.now() - key.last_used_at < timedelta(seconds=30)


def test_a_deactivated_user_is_refused_with_any_token(
    uri: str, owner: User, api_key: str, workspace: Workspace
) -> None:
    _token, tracking = tracking_token_create(user=owner, workspace=workspace)
    for secret in (api_key, tracking):
        assert _get(f"{uri}/api/2.0/mlflow/experiments/get", secret, experiment_id="0").ok
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    for secret in (api_key, tracking):
        response = _get(f"{uri}/api/2.0/mlflow/experiments/get", secret, experiment_id="0")
        assert response.status_code == 401
        assert response.json()["error_code"] == "UNAUTHENTICATED"


def test_server_info_needs_no_credentials(uri: str) -> None:
    response = _get(f"{uri}/api/3.0/mlflow/server-info", None)
    assert response.status_code == 200
    assert response.json()["workspaces_enabled"] is True


def test_basic_auth_with_a_token_as_password(uri: str, owner: User, api_key: str) -> None:
    def basic(username: str, password: str) -> dict[str, str]:
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {encoded}"}

    url = f"{uri}/api/2.0/mlflow/experiments/get"
    ok = requests.get(url, params={"experiment_id": "0"}, headers=basic("owner", api_key))
    assert ok.status_code == 200
    wrong_user = requests.get(url, params={"experiment_id": "0"}, headers=basic("x", api_key))
    assert wrong_user.status_code == 401


def test_the_client_signs_in_with_username_and_password(
    uri: str, owner: User, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "owner")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", api_key)
    client = MlflowClient(uri)
    run = client.create_run("0")
    client.log_metric(run.info.run_id, "m", 1.0)
    assert client.get_run(run.info.run_id).data.metrics == {"m": 1.0}


# (role, read status, write status, delete status); None is an outsider without any role.
MATRIX = [
    (Role.OWNER, 200, 200, 200),
    (Role.CONTRIBUTOR, 200, 200, 200),
    (Role.READER, 200, 403, 403),
    (None, 404, 404, 404),
]


@pytest.mark.parametrize(("role", "read", "write", "delete"), MATRIX)
def test_role_matrix_on_the_mlflow_api(
    uri: str, workspace: Workspace, role: Role | None, read: int, write: int, delete: int
) -> None:
    user = make_user()
    if role is not None:
        grant(user, role, workspace=workspace)
    token = make_api_key(user)
    run = make_run(make_experiment(workspace))
    got = _get(f"{uri}/api/2.0/mlflow/runs/get", token, run_id=run.uuid)
    logged = _post(
        f"{uri}/api/2.0/mlflow/runs/log-metric",
        token,
        {"run_id": run.uuid, "key": "m", "value": 1, "timestamp": 1},
    )
    deleted = _post(f"{uri}/api/2.0/mlflow/runs/delete", token, {"run_id": run.uuid})
    assert (got.status_code, logged.status_code, deleted.status_code) == (read, write, delete)
    expected_codes = {403: "PERMISSION_DENIED", 404: "RESOURCE_DOES_NOT_EXIST"}
    for response in (got, logged, deleted):
        if response.status_code in expected_codes:
            assert response.json()["error_code"] == expected_codes[response.status_code]


def test_a_group_role_covers_every_workspace_of_the_group(live_server: Any) -> None:
    first = make_workspace()
    second = make_workspace(group=first.resource_group)
    user = make_user()
    grant(user, Role.READER, group=first.resource_group)
    token = make_api_key(user)
    for workspace in (first, second):
        uri = tracking_uri(live_server.url, workspace)
        assert _get(f"{uri}/api/2.0/mlflow/experiments/get", token, experiment_id="0").ok


def test_outsiders_cannot_tell_whether_a_workspace_exists(
    live_server: Any, workspace: Workspace
) -> None:
    token = make_api_key(make_user())
    existing = tracking_uri(live_server.url, workspace)
    missing = f"{live_server.url}/mlflow/v1.0/resourceGroups/nope/workspaces/nope"
    answers = []
    for uri in (existing, missing):
        response = _get(f"{uri}/api/2.0/mlflow/experiments/get", token, experiment_id="0")
        answers.append((response.status_code, response.json()["error_code"]))
    assert answers == [(404, "RESOURCE_DOES_NOT_EXIST")] * 2
    # The native header gives the same answer.
    for name in (workspace.name, "no-such-workspace"):
        response = requests.get(
            f"{live_server.url}/api/2.0/mlflow/experiments/get",
            params={"experiment_id": "0"},
            headers={"Authorization": f"Bearer {token}", "X-MLFLOW-WORKSPACE": name},
            timeout=30,
        )
        assert (response.status_code, response.json()["error_code"]) == (
            404,
            "RESOURCE_DOES_NOT_EXIST",
        )


def test_a_tracking_token_never_reaches_another_workspace(live_server: Any) -> None:
    home, other = make_workspace(), make_workspace()
    user = make_user()
    grant(user, Role.CONTRIBUTOR, workspace=home)
    grant(user, Role.CONTRIBUTOR, workspace=other)
    _token, secret = tracking_token_create(user=user, workspace=home)
    home_uri, other_uri = (tracking_uri(live_server.url, w) for w in (home, other))
    assert _get(f"{home_uri}/api/2.0/mlflow/experiments/get", secret, experiment_id="0").ok
    response = _get(f"{other_uri}/api/2.0/mlflow/experiments/get", secret, experiment_id="0")
    assert response.status_code == 404
    listed = _get(f"{live_server.url}/api/3.0/mlflow/workspaces", secret).json()
    assert [w["name"] for w in listed["workspaces"]] == [home.name]


def test_expired_credentials_are_refused(uri: str, workspace: Workspace) -> None:
    user = make_user()
    grant(user, Role.READER, workspace=workspace)
    key, secret = api_key_create(user=user, name="short")
    _token, token_secret = tracking_token_create(user=user, workspace=workspace)
    for credential in (secret, token_secret):
        assert _get(f"{uri}/api/2.0/mlflow/experiments/get", credential, experiment_id="0").ok
    past = timezone.now() - timedelta(seconds=1)
    ApiKey.objects.filter(pk=key.pk).update(expires_at=past)
    TrackingToken.objects.filter(user=user).update(expires_at=past)
    for credential in (secret, token_secret):
        response = _get(f"{uri}/api/2.0/mlflow/experiments/get", credential, experiment_id="0")
        assert response.status_code == 401


def test_revoking_a_key_revokes_the_tokens_minted_from_it(uri: str, workspace: Workspace) -> None:
    user = make_user()
    grant(user, Role.CONTRIBUTOR, workspace=workspace)
    key, secret = api_key_create(user=user, name="ci")
    _token, token_secret = tracking_token_create(user=user, workspace=workspace, api_key=key)
    assert _get(f"{uri}/api/2.0/mlflow/experiments/get", token_secret, experiment_id="0").ok
    api_key_revoke(api_key=key)
    for credential in (secret, token_secret):
        response = _get(f"{uri}/api/2.0/mlflow/experiments/get", credential, experiment_id="0")
        assert response.status_code == 401


def test_a_reader_gets_permission_denied_from_the_client(
    uri: str, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = make_user()
    grant(reader, Role.READER, workspace=workspace)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", make_api_key(reader))
    client = MlflowClient(uri)
    assert client.get_experiment("0").name == "Default"
    with pytest.raises(MlflowException) as raised:
        client.create_run("0")
    assert raised.value.error_code == "PERMISSION_DENIED"
    mlflow.set_tracking_uri(uri)  # the fluent API too
    with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
        mlflow.start_run()


def test_the_artifact_proxy_needs_credentials(uri: str, workspace: Workspace, api_key: str) -> None:
    run = make_run(make_experiment(workspace))
    path = f"{run.experiment.wire_id}/{run.uuid}/artifacts/a.txt"
    url = f"{uri}/api/2.0/mlflow-artifacts/artifacts/{path}"
    assert requests.put(url, data=b"x", timeout=30).status_code == 401
    outsider = make_api_key(make_user())
    forbidden = requests.put(
        url, data=b"x", headers={"Authorization": f"Bearer {outsider}"}, timeout=30
    )
    assert forbidden.status_code == 404
    stored = requests.put(
        url, data=b"x", headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    )
    assert stored.status_code == 200
    assert requests.get(url, timeout=30).status_code == 401
    fetched = requests.get(url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
    assert fetched.content == b"x"


def test_native_workspace_api_follows_roles(
    live_server: Any,
    workspace: Workspace,
    owner: User,
    api_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", api_key)
    client = MlflowClient(live_server.url)
    # The owner of one workspace sees only that one.
    assert [w.name for w in client.list_workspaces()] == [workspace.name]
    assert client.get_workspace(workspace.name).name == workspace.name
    client.update_workspace(workspace.name, description="vision team")
    assert client.get_workspace(workspace.name).description == "vision team"
    # Creating workspaces at the root is for owners of the default group (and superusers).
    with pytest.raises(MlflowException) as raised:
        client.create_workspace("made-by-owner")
    assert raised.value.error_code == "PERMISSION_DENIED"
    assert not ResourceGroup.objects.filter(name="default").exists()  # refused, nothing made
    admin = make_user("root-admin", superuser=True)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", make_api_key(admin))
    created = MlflowClient(live_server.url).create_workspace("made-by-admin")
    assert created.name == "made-by-admin"
    assert "made-by-admin" in [w.name for w in MlflowClient(live_server.url).list_workspaces()]
    # A reader may look but not change.
    reader = make_user()
    grant(reader, Role.READER, workspace=workspace)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", make_api_key(reader))
    with pytest.raises(MlflowException) as raised:
        MlflowClient(live_server.url).update_workspace(workspace.name, description="x")
    assert raised.value.error_code == "PERMISSION_DENIED"
