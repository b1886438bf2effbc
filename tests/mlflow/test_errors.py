"""Errors in MLflow's format: the error code the client reads, with the status it expects.

Malformed requests go out raw with `requests`, since the client never sends them; every answer
must be JSON `{"error_code", "message"}` with a 4xx status (a 5xx would make the client retry
for minutes).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

M = "api/2.0/mlflow"
MISSING_RUN = "f" * 32


def _assert_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error_code", "message"}
    assert body["error_code"] == code
    assert body["message"]
    return body


@pytest.fixture
def run_id(client: MlflowClient) -> str:
    return client.create_run("0").info.run_id


def test_missing_objects_are_resource_does_not_exist(tracking: str, client: MlflowClient) -> None:
    for call in (
        lambda: client.get_run(MISSING_RUN),
        lambda: client.log_metric(MISSING_RUN, "m", 1.0),
        lambda: client.get_metric_history(MISSING_RUN, "m"),
        lambda: client.get_experiment("123456789"),
        lambda: client.delete_experiment("123456789"),
        lambda: client.create_run("123456789"),
    ):
        with pytest.raises(MlflowException) as raised:
            call()
        assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    _assert_error(
        requests.get(f"{tracking}/{M}/runs/get", params={"run_id": MISSING_RUN}, timeout=30),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    _assert_error(
        requests.get(
            f"{tracking}/{M}/experiments/get", params={"experiment_id": "123456789"}, timeout=30
        ),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    body = _assert_error(
        requests.get(
            f"{tracking}/{M}/experiments/get-by-name",
            params={"experiment_name": "absent"},
            timeout=30,
        ),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert body["message"] == "Could not find experiment with name 'absent'"


INVALID_METRICS = [
    Metric("../x", 1.0, 1, 0),
    Metric("/absolute", 1.0, 1, 0),
    Metric("a//b", 1.0, 1, 0),
    Metric("bad|char", 1.0, 1, 0),
    Metric("k" * 251, 1.0, 1, 0),
    Metric("m", 1.0, -1, 0),
    # Steps outside int64 are refused by the client itself; the raw tests send them.
]


def test_invalid_metric_is_invalid_parameter_value(
    subtests: pytest.Subtests, client: MlflowClient, run_id: str
) -> None:
    for metric in INVALID_METRICS:
        with subtests.test(key=metric.key[:20], timestamp=metric.timestamp):
            with pytest.raises(MlflowException) as raised:
                client.log_batch(run_id, metrics=[metric])
            assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
            assert client.get_run(run_id).data.metrics == {}


def test_invalid_params_and_tags(client: MlflowClient, run_id: str) -> None:
    for call in (
        lambda: client.log_param(run_id, "../escape", "v"),
        lambda: client.set_tag(run_id, "a/../b", "v"),
        lambda: client.log_param(run_id, "", "v"),
        lambda: client.get_experiment("not-an-integer"),
        lambda: client.search_runs(["not-an-integer"]),
    ):
        with pytest.raises(MlflowException) as raised:
            call()
        assert raised.value.error_code == "INVALID_PARAMETER_VALUE"


def test_messages_name_the_field_in_mlflow_s_words(client: MlflowClient, run_id: str) -> None:
    """Scripts and test suites match on MLflow's messages: a field is named as the endpoint that
    refused it names it (the reference server's words, mlflow/utils/validation.py)."""
    long_key = "k" * 251
    client.log_param(run_id, "lr", "0.1")
    cases = [
        (lambda: client.log_metric(run_id, "bad!", 1.0), "for parameter 'name' supplied"),
        (
            lambda: client.log_batch(run_id, metrics=[Metric("bad!", 1.0, 1, 0)]),
            "for parameter 'metrics[0].name' supplied",
        ),
        (lambda: client.log_param(run_id, "bad!", "v"), "for parameter 'key' supplied"),
        (
            lambda: client.log_batch(run_id, params=[Param("ok", "v"), Param("bad!", "v")]),
            "for parameter 'params[1].key' supplied",
        ),
        (lambda: client.set_tag(run_id, "bad!", "v"), "for parameter 'key' supplied"),
        (
            lambda: client.log_batch(run_id, tags=[RunTag("bad!", "v")]),
            "for parameter 'tags[0].key' supplied",
        ),
        (
            lambda: client.log_metric(run_id, long_key, 1.0),
            "'Metric name' exceeds the maximum length of 250 characters",
        ),
        (
            lambda: client.log_batch(run_id, params=[Param(long_key, "v")]),
            "'Param key' exceeds the maximum length of 250 characters",
        ),
        (
            lambda: client.set_tag(run_id, long_key, "v"),
            "'key' exceeds the maximum length of 250 characters",
        ),
        (
            lambda: client.log_param(run_id, "lr", "0.2"),
            f"Changing param values is not allowed. Param with key='lr' was already logged with "
            f"value='0.1' for run ID='{run_id}'. Attempted logging new value '0.2'.",
        ),
        (
            lambda: client.log_batch(run_id, params=[Param("lr", "0.2")]),
            "Changing param values is not allowed. Params were already logged="
            f"'[{{'key': 'lr', 'old_value': '0.1', 'new_value': '0.2'}}]' for run ID='{run_id}'.",
        ),
    ]
    for call, words in cases:
        with pytest.raises(MlflowException) as raised:
            call()
        assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
        assert words in raised.value.message
    data = client.get_run(run_id).data
    assert (data.params, data.metrics, data.tags.keys() - {"mlflow.runName"}) == (
        {"lr": "0.1"},
        {},
        set(),
    )


MALFORMED_RUN_WRITES: list[tuple[str, dict[str, Any]]] = [
    ("runs/log-metric", {"key": "m", "value": "abc", "timestamp": 1, "step": 0}),
    ("runs/log-metric", {"key": "m", "value": True, "timestamp": 1, "step": 0}),
    ("runs/log-metric", {"key": "m", "value": [1], "timestamp": 1, "step": 0}),
    ("runs/log-metric", {"key": "m", "value": 1, "timestamp": -5, "step": 0}),
    ("runs/log-metric", {"key": "m", "value": 1, "timestamp": "yesterday", "step": 0}),
    ("runs/log-metric", {"key": "m", "value": 1, "timestamp": 1.5, "step": 0}),
    ("runs/log-metric", {"key": "m", "value": 1, "timestamp": 1, "step": 2**63}),
    ("runs/log-metric", {"key": "m", "value": 1, "timestamp": 1, "step": -(2**63) - 1}),
    ("runs/log-metric", {"key": "m", "value": 1, "timestamp": 2**63, "step": 0}),
    ("runs/log-metric", {"key": "m", "value": 1, "timestamp": 1, "step": "1e400"}),
    ("runs/log-metric", {"value": 1, "timestamp": 1}),
    ("runs/log-metric", {"key": "m", "timestamp": 1}),
    ("runs/log-metric", {"key": "m", "value": 1}),
    ("runs/log-metric", {"key": 5, "value": 1, "timestamp": 1}),
    ("runs/log-batch", {"metrics": "not-a-list"}),
    ("runs/log-batch", {"metrics": ["not-an-object"]}),
    ("runs/log-batch", {"params": [{"value": "no key"}]}),
    ("runs/log-batch", {"tags": [{"key": "k", "value": 5}]}),
    ("runs/log-parameter", {"value": "no key"}),
    ("runs/set-tag", {"key": 7, "value": "v"}),
    ("runs/update", {"status": "SLEEPING"}),
    ("runs/update", {"end_time": "later"}),
]


def test_malformed_run_writes_are_400(
    subtests: pytest.Subtests, tracking: str, client: MlflowClient, run_id: str
) -> None:
    for path, body in MALFORMED_RUN_WRITES:
        with subtests.test(path=path, body=body):
            response = requests.post(
                f"{tracking}/{M}/{path}", json={"run_id": run_id, **body}, timeout=30
            )
            _assert_error(response, 400, "INVALID_PARAMETER_VALUE")
            stored = client.get_run(run_id)
            assert stored.data.metrics == {}
            assert stored.data.params == {}
            assert stored.info.status == "RUNNING"


MALFORMED_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("experiments/create", {}),
    ("experiments/create", {"name": 5}),
    ("experiments/create", {"name": "x", "tags": {"not": "a list"}}),
    ("runs/create", {"experiment_id": 0}),
    ("runs/create", {"experiment_id": "abc"}),
    ("runs/create", {"experiment_id": "0", "start_time": "noon"}),
    ("runs/create", {"experiment_id": "0", "tags": [{"key": "../x", "value": "v"}]}),
    ("runs/search", {"experiment_ids": "0"}),
    ("runs/search", {"experiment_ids": [0]}),
    ("runs/search", {"experiment_ids": ["0"], "max_results": "many"}),
    ("runs/search", {"experiment_ids": ["0"], "run_view_type": "SOME"}),
    ("runs/search", {"experiment_ids": ["0"], "filter": 5}),
    ("experiments/search", {"max_results": -1}),
    ("experiments/update", {"experiment_id": "0"}),
    ("runs/get", {}),
]


def test_malformed_bodies_of_other_endpoints_are_400(
    subtests: pytest.Subtests, tracking: str
) -> None:
    for path, body in MALFORMED_REQUESTS:
        with subtests.test(path=path, body=body):
            method = requests.get if path == "runs/get" else requests.post
            response = method(f"{tracking}/{M}/{path}", json=body, timeout=30)
            _assert_error(response, 400, "INVALID_PARAMETER_VALUE")


NOT_JSON_OBJECTS = [b"not json", b"[1, 2, 3]", b'"a string"', b"123", b"{unterminated", b"\xff\xfe"]


def test_bodies_that_are_not_a_json_object_are_400(
    subtests: pytest.Subtests, tracking: str
) -> None:
    for raw in NOT_JSON_OBJECTS:
        for path in ("experiments/create", "runs/log-batch", "runs/search"):
            with subtests.test(path=path, body=raw):
                response = requests.post(
                    f"{tracking}/{M}/{path}",
                    data=raw,
                    headers={"Content-Type": "application/json"},
                    timeout=30,
                )
                _assert_error(response, 400, "INVALID_PARAMETER_VALUE")


def test_unknown_endpoints_are_endpoint_not_found(tracking: str, live_server) -> None:  # noqa: ANN001
    for url in (
        f"{tracking}/{M}/runs/fly",
        f"{tracking}/api/2.0/mlflow/experiments/get/",
        f"{tracking}/ajax-api/2.0/mlflow/runs/search",
        f"{tracking}/api/9.9/unknown",
        f"{live_server.url}/api/2.0/mlflow/nothing-here",
    ):
        for method in (requests.get, requests.post):
            _assert_error(method(url, timeout=30), 404, "ENDPOINT_NOT_FOUND")


def test_wrong_method_is_answered_in_mlflow_format(tracking: str) -> None:
    response = requests.get(f"{tracking}/{M}/runs/log-batch", timeout=30)
    body = _assert_error(response, 405, "BAD_REQUEST")
    assert "POST" in body["message"]
    response = requests.delete(f"{tracking}/{M}/experiments/create", timeout=30)
    _assert_error(response, 405, "BAD_REQUEST")


def test_writes_to_a_deleted_run_are_400(client: MlflowClient, run_id: str) -> None:
    client.delete_run(run_id)
    for call in (
        lambda: client.log_metric(run_id, "m", 1.0),
        lambda: client.log_param(run_id, "p", "v"),
        lambda: client.set_tag(run_id, "t", "v"),
        lambda: client.set_terminated(run_id),
    ):
        with pytest.raises(MlflowException) as raised:
            call()
        assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
