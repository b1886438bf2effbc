"""The portal SDK end to end with the real mlflow client: from_config, tracking tokens that
renew before they expire, the request-header provider, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from experiments.models import DeletionJob, TrackingToken, Workspace
from experiments.services.access import tracking_token_create
from experiments.tracking import tracking_uri
from tests.factories import make_experiment

portal_sdk = pytest.importorskip("portal_sdk")
from portal_sdk import (  # noqa: E402
    PortalError,
    cli,
    mlflow_plugin,
)
from portal_sdk import Workspace as SdkWorkspace  # noqa: E402


@pytest.fixture
def config(
    live_server: Any,
    workspace: Workspace,
    api_key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    """A config.json in the working directory and the owner's API key in the environment."""
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "portal_url": live_server.url,
                "resource_group": workspace.resource_group.name,
                "workspace": workspace.name,
            }
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORTAL_API_KEY", api_key)
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    yield path
    mlflow_plugin.activate(None)
    mlflow.end_run()


def test_a_run_outlives_its_first_token(config: Path, workspace: Workspace, settings: Any) -> None:
    # given: tracking tokens that last three seconds
    settings.TRACKING_TOKEN_LIFETIME_SECONDS = 3
    ws = SdkWorkspace.from_config()
    mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
    first = TrackingToken.objects.get(workspace=workspace)
    # when: a run logs for more than twice that long
    mlflow.set_experiment("long-training")
    with mlflow.start_run() as run:
        for step in range(16):
            mlflow.log_metric("loss", 1 / (step + 1), step=step)
            time.sleep(0.5)
    # then: every point arrived, under several tokens, the first of them long expired
    history = MlflowClient().get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(16))
    assert MlflowClient().get_run(run.info.run_id).info.status == "FINISHED"
    assert TrackingToken.objects.filter(workspace=workspace).count() >= 3
    first.refresh_from_db()
    assert first.expires_at < timezone.now()
    assert "ptt_" not in ws.get_mlflow_tracking_uri()  # no credential in the URI


def test_without_renewal_an_expired_token_is_refused(
    live_server: Any, workspace: Workspace, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    _token, secret = tracking_token_create(
        user=owner, workspace=workspace, lifetime=timedelta(seconds=1)
    )
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", secret)
    client = MlflowClient(tracking_uri(live_server.url, workspace))
    assert client.get_experiment("0").name == "Default"
    time.sleep(1.5)
    with pytest.raises(MlflowException) as raised:
        client.get_experiment("0")
    assert raised.value.error_code == "UNAUTHENTICATED"


def test_tokens_go_only_to_the_active_workspace(config: Path) -> None:
    ws = SdkWorkspace.from_config()
    provider = mlflow_plugin.PortalRequestHeaderProvider()
    mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
    assert provider.in_context()
    assert provider.request_headers()["Authorization"].startswith("Bearer ptt_")
    mlflow.set_tracking_uri("http://elsewhere.example:5000")
    assert not provider.in_context()


def test_workspace_get_and_experiments(config: Path, workspace: Workspace) -> None:
    make_experiment(workspace, "resnet-50")
    make_experiment(workspace, "vit-base")
    ws = SdkWorkspace.get(
        workspace.name,
        resource_group=workspace.resource_group.name,
        portal_url=json.loads(config.read_text())["portal_url"],
    )
    assert {e["name"] for e in ws.experiments()} == {"Default", "resnet-50", "vit-base"}
    assert [e["name"] for e in ws.experiments(name="RESNET")] == ["resnet-50"]
    with pytest.raises(PortalError):
        SdkWorkspace.get(workspace.name, resource_group="another-group", portal_url=ws.portal_url)


def test_config_and_key_problems_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PortalError, match=r"No config\.json"):
        SdkWorkspace.from_config()
    (tmp_path / "config.json").write_text('{"portal_url": "http://x"}')
    with pytest.raises(PortalError, match="lacks resource_group, workspace"):
        SdkWorkspace.from_config()
    monkeypatch.delenv("PORTAL_API_KEY", raising=False)
    with pytest.raises(PortalError, match="PORTAL_API_KEY"):
        SdkWorkspace.get("ws", resource_group="g", portal_url="http://x")


def test_the_sdk_does_not_import_django() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import portal_sdk, portal_sdk.cli, sys; "
            "print(any(m == 'django' or m.startswith('django.') for m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "False"


def test_cli(config: Path, workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    group = workspace.resource_group.name
    make_experiment(workspace, "resnet-50")
    assert cli.main(["workspace", "list"]) == 0
    assert workspace.name in capsys.readouterr().out
    assert cli.main(["workspace", "create", "made-by-cli", "--resource-group", group]) == 1
    assert "Owner role" in capsys.readouterr().err  # the owner of a workspace, not the group
    assert cli.main(["workspace", "show", workspace.name]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == workspace.name
    assert cli.main(["experiment", "list", "--name", "resnet"]) == 0
    out = capsys.readouterr().out
    assert "resnet-50" in out
    assert "Default" not in out
    assert cli.main(["group", "delete", group]) == 1
    assert "--yes" in capsys.readouterr().err
    assert cli.main(["group", "delete", group, "--yes"]) == 1  # needs the group's Owner role
    assert not DeletionJob.objects.exists()


def test_cli_deletes_a_group_as_its_owner(
    config: Path, workspace: Workspace, owner: User, capsys: pytest.CaptureFixture[str]
) -> None:
    from experiments.choices import Role
    from tests.factories import grant

    grant(owner, Role.OWNER, group=workspace.resource_group)
    assert cli.main(["group", "delete", workspace.resource_group.name, "--yes"]) == 0
    assert "Deletion of" in capsys.readouterr().out
    assert DeletionJob.objects.filter(target_id=workspace.resource_group_id).exists()
