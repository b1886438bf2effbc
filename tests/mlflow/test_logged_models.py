"""Logged models: a scikit-learn model logged and loaded back through the server, and the
logged-model API of MlflowClient (create, get, finalize, params, tags, search, delete)."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus, Metric
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression


def test_sklearn_model_round_trip(tracking: str, client: MlflowClient) -> None:
    # given
    features = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
    labels = np.array([0, 1, 0, 1])
    model = LogisticRegression().fit(features, labels)
    # when
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=features[:2],
            # Skips inferring requirements in a subprocess, which is slow and not under test.
            pip_requirements=["scikit-learn"],
        )
    # then
    expected = model.predict(features)
    for uri in (info.model_uri, f"runs:/{run.info.run_id}/model"):
        loaded = mlflow.pyfunc.load_model(uri)
        assert list(loaded.predict(features)) == list(expected), uri
    assert list(mlflow.sklearn.load_model(info.model_uri).predict(features)) == list(expected)
    stored = client.get_logged_model(info.model_id)
    assert stored.status == LoggedModelStatus.READY
    assert stored.source_run_id == run.info.run_id
    assert stored.name == "model"
    artifacts = {item.path for item in client.list_logged_model_artifacts(info.model_id)}
    assert {"MLmodel", "model.skops", "requirements.txt", "input_example.json"} <= artifacts
    outputs = client.get_run(run.info.run_id).outputs.model_outputs
    assert [output.model_id for output in outputs] == [info.model_id]


def test_logged_model_lifecycle(client: MlflowClient) -> None:
    # given
    experiment_id = client.create_experiment("models")
    run_id = client.create_run(experiment_id).info.run_id
    # when
    created = client.create_logged_model(
        experiment_id,
        name="classifier",
        source_run_id=run_id,
        tags={"stage": "dev"},
        params={"alpha": "0.5"},
        model_type="sklearn",
    )
    # then
    assert created.model_id.startswith("m-")
    assert created.status == LoggedModelStatus.PENDING
    assert created.artifact_location == (
        f"mlflow-artifacts:/{experiment_id}/models/{created.model_id}/artifacts"
    )
    # when
    client.log_model_params(created.model_id, {"depth": "3"})
    client.set_logged_model_tags(created.model_id, {"stage": "prod", "owner": "ana"})
    client.delete_logged_model_tag(created.model_id, "owner")
    finalized = client.finalize_logged_model(created.model_id, LoggedModelStatus.READY)
    # then
    assert finalized.status == LoggedModelStatus.READY
    stored = client.get_logged_model(created.model_id)
    assert stored.params == {"alpha": "0.5", "depth": "3"}
    assert stored.tags == {"stage": "prod"}
    assert stored.model_type == "sklearn"
    assert stored.source_run_id == run_id
    assert stored.experiment_id == experiment_id
    # when
    client.delete_logged_model(created.model_id)
    # then
    with pytest.raises(MlflowException) as raised:
        client.get_logged_model(created.model_id)
    assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert client.search_logged_models([experiment_id]) == []


def test_a_model_param_is_set_once(client: MlflowClient) -> None:
    # given
    model_id = client.create_logged_model("0", params={"alpha": "0.5"}).model_id
    # when: the same values again (a retried request) are accepted
    client.log_model_params(model_id, {"alpha": "0.5", "depth": "3"})
    client.log_model_params(model_id, {"alpha": "0.5", "depth": "3"})
    # when: a changed value is refused, and nothing of that request is stored
    with pytest.raises(MlflowException) as raised:
        client.log_model_params(model_id, {"width": "8", "alpha": "0.9"})
    # then
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    assert (
        f"Param with key='alpha' was already logged with value='0.5' for model ID='{model_id}'. "
        "Attempted logging new value '0.9'." in raised.value.message
    )
    assert client.get_logged_model(model_id).params == {"alpha": "0.5", "depth": "3"}


def test_missing_logged_model(tracking: str, client: MlflowClient) -> None:
    missing = "m-" + "0" * 32
    for call in (
        lambda: client.get_logged_model(missing),
        lambda: client.finalize_logged_model(missing, LoggedModelStatus.READY),
        lambda: client.delete_logged_model(missing),
        lambda: client.delete_logged_model_tag(missing, "a"),
    ):
        with pytest.raises(MlflowException) as raised:
            call()
        assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    # For these two the client itself turns any failure into INVALID_PARAMETER_VALUE.
    for call in (
        lambda: client.set_logged_model_tags(missing, {"a": "b"}),
        lambda: client.log_model_params(missing, {"a": "b"}),
    ):
        with pytest.raises(MlflowException) as raised:
            call()
        assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    response = requests.patch(
        f"{tracking}/api/2.0/mlflow/logged-models/{missing}/tags",
        json={"tags": [{"key": "a", "value": "b"}]},
        timeout=30,
    )
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize("status", ["", "²", "LOGGED_MODEL_DONE", 99, None])
def test_finalizing_with_no_valid_status_is_refused(
    tracking: str, client: MlflowClient, status: object
) -> None:
    model = client.create_logged_model(client.create_experiment("finalize"), name="m")
    response = requests.patch(
        f"{tracking}/api/2.0/mlflow/logged-models/{model.model_id}",
        json={"status": status},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert client.get_logged_model(model.model_id).status == LoggedModelStatus.PENDING


def test_search_logged_models(client: MlflowClient) -> None:
    # given
    experiment_id = client.create_experiment("model-search")
    run_id = client.create_run(experiment_id).info.run_id
    ids = {}
    for index, name in enumerate(["small", "medium", "large"]):
        model = client.create_logged_model(
            experiment_id,
            name=name,
            source_run_id=run_id,
            params={"size": str(index)},
            tags={"family": "tree" if index else "linear"},
        )
        ids[name] = model.model_id
        client.log_batch(
            run_id, metrics=[Metric("acc", 0.5 + index / 10, 1000, 0, model_id=model.model_id)]
        )
    client.finalize_logged_model(ids["large"], LoggedModelStatus.READY)

    def names(**kwargs: object) -> list[str]:
        found = client.search_logged_models([experiment_id], **kwargs)  # type: ignore[arg-type]
        return [model.name for model in found]

    # then
    assert sorted(names()) == ["large", "medium", "small"]
    assert names(filter_string="name = 'medium'") == ["medium"]
    assert sorted(names(filter_string="tags.family = 'tree'")) == ["large", "medium"]
    assert names(filter_string="params.size = '0'") == ["small"]
    assert sorted(names(filter_string="metrics.acc > 0.55")) == ["large", "medium"]
    assert names(filter_string=f"source_run_id = '{run_id}' AND name LIKE 'l%'") == ["large"]
    # Lists, for every string key as in MLflow's store: params, tags, status, model_type.
    assert sorted(names(filter_string="params.size IN ('0', '2')")) == ["large", "small"]
    assert names(filter_string="params.size NOT IN ('0', '2')") == ["medium"]
    assert names(filter_string="tags.family IN ('linear')") == ["small"]
    assert sorted(names(filter_string="tags.family NOT IN ('linear', 'x')")) == [
        "large",
        "medium",
    ]
    assert names(filter_string="status IN ('LOGGED_MODEL_READY')") == ["large"]
    assert names(filter_string="params.missing NOT IN ('0')") == []
    assert names(order_by=[{"field_name": "name", "ascending": True}]) == [
        "large",
        "medium",
        "small",
    ]
    assert names(order_by=[{"field_name": "metrics.acc", "ascending": False}]) == [
        "large",
        "medium",
        "small",
    ]
    first = client.search_logged_models(
        [experiment_id], max_results=2, order_by=[{"field_name": "name"}]
    )
    second = client.search_logged_models(
        [experiment_id], max_results=2, order_by=[{"field_name": "name"}], page_token=first.token
    )
    assert [m.name for m in first] + [m.name for m in second] == ["large", "medium", "small"]
    assert not second.token
    with pytest.raises(MlflowException) as raised:
        client.search_logged_models([experiment_id], filter_string="name = 'a' OR name = 'b'")
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"


def test_search_logged_models_by_the_datasets_of_their_metrics(
    tracking: str, client: MlflowClient
) -> None:
    experiment_id = client.create_experiment("model-datasets")
    run_id = client.create_run(experiment_id).info.run_id
    ids = {}
    for name, dataset in [("evaluated", "eval"), ("trained", "train"), ("bare", None)]:
        model = client.create_logged_model(experiment_id, name=name, source_run_id=run_id)
        ids[name] = model.model_id
        if dataset:
            metric = Metric(
                "acc", 0.9, 1000, 0, model_id=model.model_id, dataset_name=dataset,
                dataset_digest=f"{dataset}-digest", run_id=run_id,
            )  # fmt: skip
            client.log_batch(run_id, metrics=[metric])

    def names(datasets: list[dict[str, str]], filter_string: str | None = None) -> list[str]:
        found = client.search_logged_models(
            [experiment_id],
            filter_string=filter_string,
            datasets=datasets,  # type: ignore[arg-type]
        )
        return sorted(model.name for model in found)

    # As MLflow: without a metric condition, the models with any metric on those datasets.
    assert names([{"dataset_name": "eval"}]) == ["evaluated"]
    assert names([{"dataset_name": "eval"}, {"dataset_name": "train"}]) == ["evaluated", "trained"]
    assert names([{"dataset_name": "eval", "dataset_digest": "other"}]) == []
    assert names([{"dataset_name": "train"}], "metrics.acc > 0.5") == ["trained"]
    assert names([]) == ["bare", "evaluated", "trained"]
    search = f"{tracking}/api/2.0/mlflow/logged-models/search"
    for body in (
        {"datasets": [{"dataset_digest": "eval-digest"}]},
        {"datasets": [{"dataset_name": 5}]},
        {"order_by": [{"field_name": "name", "ascending": "false"}]},
        {"order_by": [{"field_name": "metrics.acc", "dataset_name": ["eval"]}]},
    ):
        response = requests.post(
            search, json={"experiment_ids": [experiment_id], **body}, timeout=30
        )
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_fluent_logged_model_search(tracking: str, client: MlflowClient) -> None:
    experiment_id = mlflow.set_experiment("fluent-models").experiment_id
    model = mlflow.initialize_logged_model(name="fluent", tags={"k": "v"})
    frame = mlflow.search_logged_models(experiment_ids=[experiment_id])
    assert list(frame["model_id"]) == [model.model_id]
    found = mlflow.search_logged_models(
        experiment_ids=[experiment_id], filter_string="tags.k = 'v'", output_format="list"
    )
    assert [m.model_id for m in found] == [model.model_id]
    assert mlflow.get_logged_model(model.model_id).name == "fluent"
