"""log-batch at MLflow's limits, atomicity, replays, async logging and long metric histories.

The client splits big batches itself, so requests over a limit are sent raw with `requests`,
as another client (or an older mlflow) could send them.
"""

from __future__ import annotations

import json
import math
import time

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException


def _now() -> int:
    return int(time.time() * 1000)


def _metrics(count: int, key: str = "m") -> list[dict[str, object]]:
    return [{"key": key, "value": i / 2, "timestamp": 1000 + i, "step": i} for i in range(count)]


def _pairs(count: int, prefix: str) -> list[dict[str, str]]:
    return [{"key": f"{prefix}{i}", "value": str(i)} for i in range(count)]


def _post_batch(tracking: str, run_id: str, **body: object) -> requests.Response:
    return requests.post(
        f"{tracking}/api/2.0/mlflow/runs/log-batch", json={"run_id": run_id, **body}, timeout=30
    )


@pytest.fixture
def run_id(client: MlflowClient) -> str:
    return client.create_run("0").info.run_id


def _stored(client: MlflowClient, run_id: str) -> tuple[int, int, int]:
    """(metric keys, params, tags other than the client's own) of a run."""
    data = client.get_run(run_id).data
    tags = [key for key in data.tags if not key.startswith("mlflow.")]
    return len(data.metrics), len(data.params), len(tags)


def test_batches_at_each_limit_succeed(client: MlflowClient, run_id: str) -> None:
    # 1000 metrics (one key each, so the latest values show them all)
    metrics = [Metric(f"m{i}", float(i), _now(), 0) for i in range(1000)]
    client.log_batch(run_id, metrics=metrics)
    # 100 params and 100 tags
    client.log_batch(
        run_id,
        params=[Param(f"p{i}", str(i)) for i in range(100)],
        tags=[RunTag(f"t{i}", str(i)) for i in range(100)],
    )
    assert _stored(client, run_id) == (1000, 100, 100)


def test_raw_batch_of_exactly_1000_entities_succeeds(
    tracking: str, client: MlflowClient, run_id: str
) -> None:
    response = _post_batch(
        tracking, run_id, metrics=_metrics(800), params=_pairs(100, "p"), tags=_pairs(100, "t")
    )
    assert response.status_code == 200, response.text
    assert len(client.get_metric_history(run_id, "m")) == 800
    assert _stored(client, run_id) == (1, 100, 100)


OVER_LIMITS: list[tuple[dict[str, object], str]] = [
    ({"metrics": _metrics(1001)}, "metrics"),
    ({"params": _pairs(101, "p")}, "params"),
    ({"tags": _pairs(101, "t")}, "tags"),
    (
        {"metrics": _metrics(801), "params": _pairs(100, "p"), "tags": _pairs(100, "t")},
        "metrics, params, and tags",
    ),
]


def test_batch_over_a_limit_is_refused_and_stores_nothing(
    subtests: pytest.Subtests, tracking: str, client: MlflowClient, run_id: str
) -> None:
    for body, entity in OVER_LIMITS:
        with subtests.test(entity=entity):
            response = _post_batch(tracking, run_id, **body)
            assert response.status_code == 400
            message = response.json()["message"]
            assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            assert message.startswith("A batch logging request can contain at most")
            assert f"{entity}." in message
            assert _stored(client, run_id) == (0, 0, 0)
            assert client.get_metric_history(run_id, "m") == []


def test_one_bad_item_fails_the_whole_batch(
    tracking: str, client: MlflowClient, run_id: str
) -> None:
    bad_last = [*_metrics(10), {"key": "../escape", "value": 1, "timestamp": 1, "step": 0}]
    response = _post_batch(tracking, run_id, metrics=bad_last, params=_pairs(3, "p"))
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert _stored(client, run_id) == (0, 0, 0)
    # A changed param fails the batch after the metrics were checked: still nothing is kept.
    client.log_param(run_id, "fixed", "1")
    response = _post_batch(
        tracking, run_id, metrics=_metrics(5), params=[{"key": "fixed", "value": "2"}]
    )
    assert response.status_code == 400
    assert client.get_metric_history(run_id, "m") == []
    assert client.get_run(run_id).data.params == {"fixed": "1"}


def test_duplicate_param_keys_in_one_batch_are_refused(
    tracking: str, client: MlflowClient, run_id: str
) -> None:
    with pytest.raises(MlflowException) as raised:
        client.log_batch(run_id, params=[Param("lr", "0.1"), Param("lr", "0.2")])
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Duplicate parameter keys" in raised.value.message
    # Even with equal values, as MLflow does.
    response = _post_batch(
        tracking, run_id, params=[{"key": "lr", "value": "1"}, {"key": "lr", "value": "1"}]
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run_id).data.params == {}


def test_replayed_batch_stores_each_point_once(
    tracking: str, client: MlflowClient, run_id: str
) -> None:
    # given: the exact bytes a retrying client would send again
    body = json.dumps(
        {
            "run_id": run_id,
            "metrics": [*_metrics(50), {"key": "nan", "value": "NaN", "timestamp": 5, "step": 1}],
            "params": _pairs(5, "p"),
            "tags": _pairs(5, "t"),
        }
    )
    url = f"{tracking}/api/2.0/mlflow/runs/log-batch"
    headers = {"Content-Type": "application/json"}
    # when
    first = requests.post(url, data=body, headers=headers, timeout=30)
    second = requests.post(url, data=body, headers=headers, timeout=30)
    # then
    assert (first.status_code, second.status_code) == (200, 200)
    history = client.get_metric_history(run_id, "m")
    assert [m.step for m in history] == list(range(50))
    assert len(client.get_metric_history(run_id, "nan")) == 1
    assert _stored(client, run_id) == (2, 5, 5)
    # A different value at the same step is a new point, as in MLflow.
    client.log_metric(run_id, "m", 123.0, timestamp=1000, step=0)
    assert len(client.get_metric_history(run_id, "m")) == 51


def test_async_logging_arrives_exactly_once(tracking: str, client: MlflowClient) -> None:
    # given
    with mlflow.start_run() as run:
        # when
        for step in range(100):
            mlflow.log_metric("loss", 1 / (step + 1), step=step, synchronous=False)
        mlflow.log_params({f"p{i}": i for i in range(150)}, synchronous=False)
        mlflow.set_tags({f"t{i}": i for i in range(120)}, synchronous=False)
        operations = client.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", i / 10, _now(), i) for i in range(10)],
            params=[Param("batch-param", "x")],
            synchronous=False,
        )
        operations.wait()
        mlflow.flush_async_logging()
    # then
    run_id = run.info.run_id
    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == list(range(100))
    assert [m.value for m in history] == pytest.approx([1 / (s + 1) for s in range(100)])
    assert len(client.get_metric_history(run_id, "acc")) == 10
    data = client.get_run(run_id).data
    assert len(data.params) == 151
    assert data.params["p149"] == "149"
    assert data.params["batch-param"] == "x"
    assert sum(1 for key in data.tags if key.startswith("t")) == 120
    assert client.get_run(run_id).info.status == "FINISHED"


def test_history_longer_than_one_page_comes_back_whole_and_in_order(
    client: MlflowClient, run_id: str
) -> None:
    # given: more points than one get-history page (25,000) holds
    total = 25_000 + 1_234
    start = _now()
    points = [Metric("long", float(total - i), start + i, i) for i in range(total)]
    client.log_batch(run_id, metrics=points)
    # when
    history = client.get_metric_history(run_id, "long")
    # then
    assert len(history) == total
    assert [m.step for m in history] == list(range(total))
    assert [m.timestamp for m in history] == [start + i for i in range(total)]
    assert history[-1].value == 1.0
    assert client.get_run(run_id).data.metrics["long"] == 1.0


def test_history_pages_have_no_gaps_or_repeats(
    tracking: str, client: MlflowClient, run_id: str
) -> None:
    client.log_batch(run_id, metrics=[Metric("k", float(i), 1000 + i, i) for i in range(25)])
    steps, token = [], None
    url = f"{tracking}/api/2.0/mlflow/metrics/get-history"
    while True:
        params = {"run_id": run_id, "metric_key": "k", "max_results": 10}
        if token:
            params["page_token"] = token
        page = requests.get(url, params=params, timeout=30).json()
        steps += [metric["step"] for metric in page["metrics"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert steps == list(range(25))
    too_many = requests.get(
        url, params={"run_id": run_id, "metric_key": "k", "max_results": 25001}, timeout=30
    )
    assert too_many.status_code == 400
    assert too_many.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_unusual_but_valid_metrics_are_stored_like_plain_ones(
    tracking: str, client: MlflowClient, run_id: str
) -> None:
    """Batches of plain points are read a column at a time; integers for values, missing steps
    and NaN literals (Python's json.dumps writes them) must come out as point by point."""
    # given
    body = json.dumps(
        {
            "run_id": run_id,
            "metrics": [
                {"key": "int", "value": 3, "timestamp": 10},
                {"key": "int", "value": -(2**53), "timestamp": 11, "step": 1},
                {"key": "nan", "value": float("nan"), "timestamp": 12, "step": 0},
                {"key": "nan", "value": float("inf"), "timestamp": 13, "step": 1},
            ],
        }
    )
    # when
    response = requests.post(
        f"{tracking}/api/2.0/mlflow/runs/log-batch",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    # then
    assert response.status_code == 200, response.text
    ints = client.get_metric_history(run_id, "int")
    assert [(m.value, m.step) for m in ints] == [(3.0, 0), (float(-(2**53)), 1)]
    nans = client.get_metric_history(run_id, "nan")
    assert math.isnan(nans[0].value)
    assert nans[1].value == float("inf")
    assert client.get_run(run_id).data.metrics == {"int": float(-(2**53)), "nan": float("inf")}


def test_a_metric_without_a_step_keeps_its_model(client: MlflowClient, run_id: str) -> None:
    model = client.create_logged_model("0", name="m", source_run_id=run_id)
    response = requests.post(
        f"{client.tracking_uri}/api/2.0/mlflow/runs/log-batch",
        json={
            "run_id": run_id,
            "metrics": [{"key": "acc", "value": 0.5, "timestamp": 1, "model_id": model.model_id}],
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert [m.key for m in client.get_logged_model(model.model_id).metrics] == ["acc"]
