"""Dataset inputs logged with mlflow.log_input: stored as MLflow reports them, and searchable."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import DatasetInput, InputTag
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT as CONTEXT


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})


def test_pandas_and_numpy_inputs_appear_in_get_run(
    tracking: str, client: MlflowClient, frame: pd.DataFrame
) -> None:
    # given
    table = mlflow.data.from_pandas(frame, source="/data/table.csv", name="table", targets="y")
    array = mlflow.data.from_numpy(np.arange(12).reshape(4, 3), name="features")
    # when
    with mlflow.start_run() as run:
        mlflow.log_input(table, context="training", tags={"split": "a"})
        mlflow.log_input(array, context="evaluation")
        # Logging the same input again records it once.
        mlflow.log_input(table, context="training", tags={"split": "a"})
    # then
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    by_name = {item.dataset.name: item for item in inputs}
    assert sorted(by_name) == ["features", "table"]
    stored = by_name["table"].dataset
    assert stored.digest == table.digest
    assert stored.source_type == "local"
    assert json.loads(stored.source) == {"uri": "/data/table.csv"}
    assert json.loads(stored.schema) == json.loads(table._to_mlflow_entity().schema)
    assert json.loads(stored.profile) == {"num_rows": 3, "num_elements": 6}
    assert {tag.key: tag.value for tag in by_name["table"].tags} == {
        "mlflow.data.context": "training",
        "split": "a",
    }
    assert by_name["features"].dataset.digest == array.digest
    assert {tag.key: tag.value for tag in by_name["features"].tags} == {
        "mlflow.data.context": "evaluation"
    }
    # The fluent reader rebuilds the dataset's source from what the server returned.
    source = mlflow.data.get_source(by_name["table"])
    assert source.to_dict() == {"uri": "/data/table.csv"}


def test_the_first_context_and_tags_of_an_input_stay(
    tracking: str, client: MlflowClient, frame: pd.DataFrame
) -> None:
    # given
    table = mlflow.data.from_pandas(frame, name="table")
    experiment_id = mlflow.set_experiment("first-input").experiment_id
    with mlflow.start_run() as run:
        mlflow.log_input(table, context="training", tags={"split": "a"})
        # when: the same dataset again, alone and twice in one call
        mlflow.log_input(table, context="evaluation", tags={"split": "b", "extra": "x"})
        client.log_inputs(
            run.info.run_id,
            [
                DatasetInput(table._to_mlflow_entity(), tags=[InputTag(CONTEXT, "testing")]),
                DatasetInput(table._to_mlflow_entity(), tags=[InputTag(CONTEXT, "other")]),
            ],
        )
        # and a new dataset twice in one call: the first one counts
        small = mlflow.data.from_pandas(frame.head(1), name="small")
        client.log_inputs(
            run.info.run_id,
            [
                DatasetInput(small._to_mlflow_entity(), tags=[InputTag(CONTEXT, "first")]),
                DatasetInput(small._to_mlflow_entity(), tags=[InputTag(CONTEXT, "second")]),
            ],
        )
    # then
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    tags = {item.dataset.name: {tag.key: tag.value for tag in item.tags} for item in inputs}
    assert tags == {
        "table": {CONTEXT: "training", "split": "a"},
        "small": {CONTEXT: "first"},
    }
    for context, expected in [("training", 1), ("evaluation", 0), ("testing", 0), ("second", 0)]:
        found = client.search_runs([experiment_id], f"datasets.context = '{context}'")
        assert len(found) == expected, context


def test_runs_are_searchable_by_their_datasets(
    tracking: str, client: MlflowClient, frame: pd.DataFrame
) -> None:
    # given
    table = mlflow.data.from_pandas(frame, name="table")
    other = mlflow.data.from_pandas(frame.head(2), name="table-small")
    experiment_id = mlflow.set_experiment("datasets").experiment_id
    with mlflow.start_run(run_name="trained") as trained:
        mlflow.log_input(table, context="training")
    with mlflow.start_run(run_name="evaluated") as evaluated:
        mlflow.log_input(table, context="evaluation")
        mlflow.log_input(other, context="evaluation")
    with mlflow.start_run(run_name="bare"):
        pass

    def names(text: str) -> set[str]:
        return {run.info.run_name for run in client.search_runs([experiment_id], text)}

    # then
    assert names("datasets.name = 'table'") == {"trained", "evaluated"}
    assert names("datasets.name LIKE 'table-%'") == {"evaluated"}
    assert names(f"datasets.digest = '{other.digest}'") == {"evaluated"}
    assert names("datasets.context = 'training'") == {"trained"}
    assert names("dataset.context IN ('evaluation', 'testing')") == {"evaluated"}
    assert names("datasets.context != 'training'") == {"evaluated"}
    assert names("datasets.name = 'table' AND datasets.context = 'evaluation'") == {"evaluated"}
    assert trained.info.run_id != evaluated.info.run_id


def test_dataset_fields_over_mlflow_limits_are_refused(
    tracking: str, client: MlflowClient, frame: pd.DataFrame
) -> None:
    run_id = client.create_run("0").info.run_id
    dataset = mlflow.data.from_pandas(frame, name="n" * 501)._to_mlflow_entity()
    with pytest.raises(MlflowException) as raised:
        client.log_inputs(run_id, datasets=[DatasetInput(dataset, [])])
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run_id).inputs.dataset_inputs == []
