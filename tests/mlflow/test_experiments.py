"""Experiments through the real mlflow client: create, get, rename, delete/restore, tags."""

from __future__ import annotations

import time

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException


def _error_code(raised: pytest.ExceptionInfo[MlflowException]) -> str:
    return raised.value.error_code


def test_create_and_get_by_id_and_name(client: MlflowClient) -> None:
    # when
    experiment_id = client.create_experiment("training", tags={"team": "vision", "a.b": "c"})
    # then
    by_id = client.get_experiment(experiment_id)
    by_name = client.get_experiment_by_name("training")
    assert by_id.experiment_id == by_name.experiment_id == experiment_id
    assert by_id.name == "training"
    assert by_id.lifecycle_stage == "active"
    assert by_id.tags == {"team": "vision", "a.b": "c"}
    assert by_id.artifact_location == f"mlflow-artifacts:/{experiment_id}"
    assert by_id.creation_time == by_id.last_update_time > 0


def test_duplicate_name_is_resource_already_exists(client: MlflowClient) -> None:
    client.create_experiment("twice")
    with pytest.raises(MlflowException) as raised:
        client.create_experiment("twice")
    assert _error_code(raised) == "RESOURCE_ALREADY_EXISTS"
    # Names are case-sensitive, as in MLflow.
    assert client.create_experiment("TWICE")


def test_missing_experiment(client: MlflowClient) -> None:
    assert client.get_experiment_by_name("never-created") is None
    with pytest.raises(MlflowException) as raised:
        client.get_experiment("987654321")
    assert _error_code(raised) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as raised:
        client.get_experiment("not-a-number")
    assert _error_code(raised) == "INVALID_PARAMETER_VALUE"


def test_invalid_experiment_name(subtests: pytest.Subtests, client: MlflowClient) -> None:
    for name in ("", "   ", "x" * 501):
        with subtests.test(name=name[:10], length=len(name)):
            with pytest.raises(MlflowException) as raised:
                client.create_experiment(name)
            assert _error_code(raised) == "INVALID_PARAMETER_VALUE"
    assert [e.name for e in client.search_experiments()] == ["Default"]


def test_artifact_location_is_refused(client: MlflowClient) -> None:
    with pytest.raises(MlflowException) as raised:
        client.create_experiment("elsewhere", artifact_location="s3://bucket/path")
    assert _error_code(raised) == "INVALID_PARAMETER_VALUE"
    assert client.get_experiment_by_name("elsewhere") is None


def test_rename(client: MlflowClient) -> None:
    # given
    experiment_id = client.create_experiment("before")
    created = client.get_experiment(experiment_id)
    client.create_experiment("taken")
    # when
    client.rename_experiment(experiment_id, "after")
    # then
    assert client.get_experiment(experiment_id).name == "after"
    assert client.get_experiment_by_name("after").experiment_id == experiment_id
    assert client.get_experiment_by_name("before") is None
    assert client.get_experiment(experiment_id).last_update_time >= created.last_update_time
    with pytest.raises(MlflowException) as raised:
        client.rename_experiment(experiment_id, "taken")
    assert _error_code(raised) == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as raised:
        client.rename_experiment(experiment_id, "")
    assert _error_code(raised) == "INVALID_PARAMETER_VALUE"
    assert client.get_experiment(experiment_id).name == "after"


def test_delete_and_restore_take_the_runs_along(client: MlflowClient) -> None:
    # given
    experiment_id = client.create_experiment("lifecycle")
    kept = client.create_run(experiment_id).info.run_id
    deleted_before = client.create_run(experiment_id).info.run_id
    client.delete_run(deleted_before)

    # when
    client.delete_experiment(experiment_id)

    # then
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert client.get_experiment_by_name("lifecycle").lifecycle_stage == "deleted"
    assert client.get_run(kept).info.lifecycle_stage == "deleted"
    assert client.search_runs([experiment_id]) == []
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert {run.info.run_id for run in deleted} == {kept, deleted_before}
    with pytest.raises(MlflowException) as raised:
        client.create_run(experiment_id)
    assert _error_code(raised) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as raised:
        client.log_metric(kept, "x", 1.0)
    assert _error_code(raised) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as raised:
        client.delete_experiment(experiment_id)
    assert _error_code(raised) == "RESOURCE_DOES_NOT_EXIST"

    # when
    client.restore_experiment(experiment_id)

    # then: as in MLflow, restoring brings back every run of the experiment.
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"
    restored = client.search_runs([experiment_id])
    assert {run.info.run_id for run in restored} == {kept, deleted_before}
    client.log_metric(kept, "x", 1.0)
    with pytest.raises(MlflowException) as raised:
        client.restore_experiment(experiment_id)
    assert _error_code(raised) == "RESOURCE_DOES_NOT_EXIST"


def test_deleted_experiment_keeps_its_name(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("reserved")
    client.delete_experiment(experiment_id)
    with pytest.raises(MlflowException) as raised:
        client.create_experiment("reserved")
    assert _error_code(raised) == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as raised:
        client.rename_experiment(experiment_id, "renamed")
    assert _error_code(raised) == "INVALID_PARAMETER_VALUE"


def test_set_experiment_of_a_deleted_experiment_fails(tracking: str, client: MlflowClient) -> None:
    # given
    experiment_id = mlflow.set_experiment("soon-deleted").experiment_id
    client.delete_experiment(experiment_id)
    # when
    with pytest.raises(MlflowException) as raised:
        mlflow.set_experiment("soon-deleted")
    # then
    assert _error_code(raised) == "INVALID_PARAMETER_VALUE"
    assert "Cannot set a deleted experiment 'soon-deleted'" in raised.value.message
    with pytest.raises(MlflowException):
        mlflow.set_experiment(experiment_id=experiment_id)
    client.restore_experiment(experiment_id)
    assert mlflow.set_experiment("soon-deleted").experiment_id == experiment_id


def test_set_experiment_creates_then_reuses(tracking: str, client: MlflowClient) -> None:
    first = mlflow.set_experiment("fluent")
    second = mlflow.set_experiment("fluent")
    assert first.experiment_id == second.experiment_id
    with mlflow.start_run() as run:
        pass
    assert run.info.experiment_id == first.experiment_id


def test_experiment_tags(client: MlflowClient) -> None:
    # given
    experiment_id = client.create_experiment("tagged", tags={"keep": "1"})
    created = client.get_experiment(experiment_id)
    time.sleep(0.01)
    # when
    client.set_experiment_tag(experiment_id, "team", "vision")
    client.set_experiment_tag(experiment_id, "team", "nlp")
    client.set_experiment_tag(experiment_id, "mlflow.note.content", "x" * 20000)
    # then
    stored = client.get_experiment(experiment_id)
    # As in MLflow, tags leave last_update_time (set by create, rename, delete, restore).
    assert stored.last_update_time == created.last_update_time
    tags = stored.tags
    assert tags["team"] == "nlp"
    assert tags["keep"] == "1"
    assert len(tags["mlflow.note.content"]) == 20000
    # when
    client.delete_experiment_tag(experiment_id, "team")
    # then
    assert "team" not in client.get_experiment(experiment_id).tags
    with pytest.raises(MlflowException) as raised:
        client.delete_experiment_tag(experiment_id, "team")
    assert _error_code(raised) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as raised:
        client.set_experiment_tag(experiment_id, "too-long", "x" * 20001)
    assert _error_code(raised) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as raised:
        client.set_experiment_tag(experiment_id, "../escape", "x")
    assert _error_code(raised) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as raised:
        client.set_experiment_tag("987654321", "team", "x")
    assert _error_code(raised) == "RESOURCE_DOES_NOT_EXIST"


def test_tags_of_a_deleted_experiment_are_read_only(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("frozen", tags={"a": "1"})
    client.delete_experiment(experiment_id)
    with pytest.raises(MlflowException) as raised:
        client.set_experiment_tag(experiment_id, "a", "2")
    assert _error_code(raised) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as raised:
        client.delete_experiment_tag(experiment_id, "a")
    assert _error_code(raised) == "INVALID_PARAMETER_VALUE"
    assert client.get_experiment(experiment_id).tags == {"a": "1"}


def test_default_experiment_is_zero(client: MlflowClient) -> None:
    default = client.get_experiment("0")
    assert default.name == "Default"
    assert client.get_experiment_by_name("Default").experiment_id == "0"
    assert default.artifact_location == "mlflow-artifacts:/0"
    active = client.search_experiments()
    assert [e.experiment_id for e in active] == ["0"]
