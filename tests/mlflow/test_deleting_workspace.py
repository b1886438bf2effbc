"""The real mlflow client against a workspace being deleted: a clear 409, never a 500, and no
write slips in once the deletion has started."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from django.db import connection, transaction
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from experiments.choices import ContainerState
from experiments.models import MetricHistory, Run, Workspace
from experiments.services.audit import Actor
from experiments.services.deletion import resource_group_delete, workspace_delete
from experiments.services.workspaces import workspace_hold_for_write


def test_client_writing_to_a_deleting_workspace_gets_a_clear_error(
    tracking: str, client: MlflowClient, workspace: Workspace
) -> None:
    # given: a run under way when the admin deletes the group
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "loss", 1.0)
    group = workspace.resource_group.name
    resource_group_delete(group_name=group, confirm_name=group, actor=Actor("admin"))

    # when / then: each kind of write is refused with MLflow's RESOURCE_CONFLICT
    with pytest.raises(MlflowException) as refused:
        client.log_metric(run_id, "loss", 0.5)
    assert refused.value.error_code == "RESOURCE_CONFLICT"
    assert refused.value.get_http_status_code() == 409
    assert f"Workspace '{workspace.name}' is being deleted" in refused.value.message
    for write in (
        lambda: client.log_param(run_id, "lr", 1),
        lambda: client.set_tag(run_id, "k", "v"),
        lambda: client.create_experiment("late"),
        lambda: client.set_terminated(run_id),
    ):
        with pytest.raises(MlflowException) as refused:
            write()
        assert refused.value.error_code == "RESOURCE_CONFLICT"
    # Artifact uploads go through requests: the client raises its HTTPError, whose text is
    # the same MLflow error body.
    with pytest.raises(requests.HTTPError) as upload:
        client.log_text(run_id, "hello", "notes.txt")
    assert upload.value.response.status_code == 409
    assert upload.value.response.json()["error_code"] == "RESOURCE_CONFLICT"
    assert "is being deleted" in str(upload.value)
    # Reads still work while the deletion runs.
    assert client.get_run(run_id).data.metrics == {"loss": 1.0}
    assert MetricHistory.objects.filter(run_id=Run.objects.get(uuid=run_id).pk).count() == 1


def test_single_workspace_deletion_refuses_writes_too(
    tracking: str, client: MlflowClient, workspace: Workspace
) -> None:
    experiment_id = client.create_experiment("before")
    workspace_delete(
        group_name=workspace.resource_group.name,
        workspace_name=workspace.name,
        confirm_name=workspace.name,
        actor=Actor("admin"),
    )
    with pytest.raises(MlflowException) as refused:
        client.create_run(experiment_id)
    assert refused.value.error_code == "RESOURCE_CONFLICT"


def test_marking_waits_for_a_write_in_flight(workspace: Workspace) -> None:
    """A write that started before the marking commits first; the marking never interleaves."""
    experiment = workspace.experiments.get()
    inside_write = threading.Event()
    finish_write = threading.Event()
    order: list[str] = []

    def write() -> None:
        try:
            with transaction.atomic():
                workspace_hold_for_write(workspace=workspace)
                inside_write.set()
                finish_write.wait(5)
                Run.objects.create(
                    uuid="a" * 32,
                    experiment=experiment,
                    workspace=workspace,
                    start_time=0,
                    artifact_uri="x",
                )
            order.append("write committed")
        finally:
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    assert inside_write.wait(5)

    def mark() -> None:
        try:
            group = workspace.resource_group.name
            resource_group_delete(group_name=group, confirm_name=group, actor=Actor("admin"))
            order.append("marked")
        finally:
            connection.close()

    marker = threading.Thread(target=mark)
    marker.start()
    time.sleep(0.5)
    assert order == []  # the marking waits for the write
    finish_write.set()
    writer.join(10)
    marker.join(10)

    assert order == ["write committed", "marked"]
    assert Workspace.objects.get(pk=workspace.pk).state == ContainerState.DELETING
    assert Run.objects.filter(uuid="a" * 32).exists()
