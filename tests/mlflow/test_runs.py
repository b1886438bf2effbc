"""Runs logged with the real mlflow client over HTTP."""

from __future__ import annotations

import math

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException


def test_set_experiment_and_named_tagged_run(tracking: str, client: MlflowClient) -> None:
    # given
    experiment = mlflow.set_experiment("training")
    # when
    with mlflow.start_run(run_name="baseline", tags={"team": "vision"}) as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"depth": 3, "optimizer": "adam"})
        mlflow.set_tags({"stage": "dev", "owner": "ana"})
    # then
    stored = client.get_run(run.info.run_id)
    assert stored.info.experiment_id == experiment.experiment_id
    assert stored.info.run_name == "baseline"
    assert stored.info.status == "FINISHED"
    assert stored.info.end_time >= stored.info.start_time
    assert stored.data.params == {"lr": "0.01", "depth": "3", "optimizer": "adam"}
    assert stored.data.tags["team"] == "vision"
    assert stored.data.tags["stage"] == "dev"
    assert stored.data.tags["mlflow.runName"] == "baseline"
    assert stored.info.artifact_uri == (
        f"mlflow-artifacts:/{experiment.experiment_id}/{run.info.run_id}/artifacts"
    )


def test_metrics_with_steps_nan_and_infinities(tracking: str, client: MlflowClient) -> None:
    with mlflow.start_run() as run:
        for step in range(10):
            mlflow.log_metric("loss", 1 / (step + 1), step=step)
        mlflow.log_metric("weird", math.nan, step=0)
        mlflow.log_metric("up", math.inf)
        mlflow.log_metric("down", -math.inf)
        mlflow.log_metric("negative-step", 3.5, step=-5)
        mlflow.log_metrics({"a": 1.0, "b": 2.0}, step=7)
    stored = client.get_run(run.info.run_id).data.metrics
    assert stored["loss"] == pytest.approx(0.1)
    assert math.isnan(stored["weird"])
    assert stored["up"] == math.inf
    assert stored["down"] == -math.inf
    assert stored["negative-step"] == 3.5
    assert (stored["a"], stored["b"]) == (1.0, 2.0)
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(10))
    assert [m.value for m in history] == pytest.approx([1 / (i + 1) for i in range(10)])
    weird = client.get_metric_history(run.info.run_id, "weird")
    assert len(weird) == 1
    assert math.isnan(weird[0].value)


def test_latest_metric_is_highest_step_not_last_logged(tracking: str, client: MlflowClient) -> None:
    with mlflow.start_run() as run:
        mlflow.log_metric("acc", 0.9, step=5)
        mlflow.log_metric("acc", 0.1, step=2)
    assert client.get_run(run.info.run_id).data.metrics["acc"] == 0.9
    assert len(client.get_metric_history(run.info.run_id, "acc")) == 2


def test_failing_run_is_marked_failed(tracking: str, client: MlflowClient) -> None:
    def train() -> None:
        with mlflow.start_run():
            mlflow.log_metric("before", 1.0)
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        train()
    run = mlflow.last_active_run()
    stored = client.get_run(run.info.run_id)
    assert stored.info.status == "FAILED"
    assert stored.data.metrics["before"] == 1.0


def test_nested_runs_record_their_parent(tracking: str, client: MlflowClient) -> None:
    with mlflow.start_run() as parent, mlflow.start_run(nested=True) as child:
        mlflow.log_metric("child-metric", 1.0)
    stored = client.get_run(child.info.run_id)
    assert stored.data.tags["mlflow.parentRunId"] == parent.info.run_id
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert [r.info.run_id for r in children] == [child.info.run_id]


def test_set_and_delete_tag(tracking: str, client: MlflowClient) -> None:
    with mlflow.start_run() as run:
        mlflow.set_tag("temporary", "yes")
        client.delete_tag(run.info.run_id, "temporary")
    assert "temporary" not in client.get_run(run.info.run_id).data.tags
    with pytest.raises(MlflowException) as raised:
        client.delete_tag(run.info.run_id, "temporary")
    assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_params_are_immutable_but_same_value_is_accepted(
    tracking: str, client: MlflowClient
) -> None:
    with mlflow.start_run() as run:
        mlflow.log_param("lr", "0.1")
        mlflow.log_param("lr", "0.1")
    with pytest.raises(MlflowException) as raised:
        client.log_param(run.info.run_id, "lr", "0.2")
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in raised.value.message
    assert client.get_run(run.info.run_id).data.params == {"lr": "0.1"}


def test_update_run_name_and_status(tracking: str, client: MlflowClient) -> None:
    run = client.create_run(mlflow.set_experiment("renames").experiment_id, run_name="old")
    client.update_run(run.info.run_id, status="KILLED", name="new")
    stored = client.get_run(run.info.run_id)
    assert stored.info.run_name == "new"
    assert stored.data.tags["mlflow.runName"] == "new"
    assert stored.info.status == RunStatus.to_string(RunStatus.KILLED)


def test_delete_and_restore_run(tracking: str, client: MlflowClient) -> None:
    experiment_id = mlflow.set_experiment("lifecycle").experiment_id
    run = client.create_run(experiment_id)
    client.delete_run(run.info.run_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([experiment_id]) == []
    with pytest.raises(MlflowException) as raised:
        client.log_metric(run.info.run_id, "x", 1.0)
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    client.restore_run(run.info.run_id)
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run.info.run_id]


def test_run_without_experiment_goes_to_default_experiment(
    tracking: str, client: MlflowClient
) -> None:
    with mlflow.start_run() as run:
        pass
    assert run.info.experiment_id == "0"
    default = client.get_experiment("0")
    assert default.name == "Default"
    assert client.get_run(run.info.run_id).info.experiment_id == "0"
