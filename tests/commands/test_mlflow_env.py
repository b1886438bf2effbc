"""`manage.py mlflow_env`: its lines point the real client at the workspace."""

from __future__ import annotations

import io
import re
import subprocess
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from mlflow import MlflowClient

from experiments.models import Workspace


def _exports(output: str) -> dict[str, str]:
    lines = [line.removeprefix("export ") for line in output.splitlines() if line.strip()]
    return dict(line.split("=", 1) for line in lines)


@pytest.mark.django_db(transaction=True)
def test_prints_lines_that_log_to_a_new_workspace(
    live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("mlflow_env", "team-a/vision", url=live_server.url, stdout=out, stderr=err)
    exports = _exports(out.getvalue())
    # A first run makes the administrator, with a password to sign in to the pages.
    password = re.search(r"'admin' with the password (\S+) ", err.getvalue()).group(1)
    assert authenticate(username="admin", password=password).is_superuser
    assert exports["MLFLOW_TRACKING_URI"] == (
        f"{live_server.url}/mlflow/v1.0/resourceGroups/team-a/workspaces/vision"
    )
    assert Workspace.objects.filter(name="vision", resource_group__name="team-a").exists()
    # The printed lines are valid shell.
    shell = subprocess.run(
        ["sh", "-c", f"{out.getvalue()}\necho $MLFLOW_TRACKING_URI"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.strip() == exports["MLFLOW_TRACKING_URI"]
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", exports["MLFLOW_TRACKING_TOKEN"])
    client = MlflowClient(exports["MLFLOW_TRACKING_URI"])
    run = client.create_run("0")
    client.log_param(run.info.run_id, "p", "1")
    assert client.get_run(run.info.run_id).data.params == {"p": "1"}


@pytest.mark.django_db
def test_refuses_a_workspace_name_taken_in_another_group() -> None:
    call_command("mlflow_env", "group-a/shared", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="already exists in resource group 'group-a'"):
        call_command("mlflow_env", "group-b/shared", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["no-slash", "a/b/c", "/ws", "group/", "group/Bad_Name"])
def test_refuses_malformed_targets(target: str) -> None:
    with pytest.raises(CommandError):
        call_command("mlflow_env", target, stdout=io.StringIO(), stderr=io.StringIO())
