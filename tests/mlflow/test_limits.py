"""MLflow's limits and validation rules, sent past the client's own checks.

The real client validates much of this before sending, so these tests post raw JSON; each
refused input must answer MLflow's error body with the status the client expects (400, or 404
for something that does not exist), never a 500, and nothing of a refused request may be
stored. The real client then reads back what is stored.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import ViewType
from pytest_django.live_server_helper import LiveServer

from tests.mlflow.raw_http import send

API = "/api/2.0/mlflow"
WORKSPACES = "/api/3.0/mlflow/workspaces"
INT64_MAX = 2**63 - 1
INVALID = "INVALID_PARAMETER_VALUE"


def call(
    tracking: str, method: str, endpoint: str, body: Any = None, **kwargs: Any
) -> requests.Response:
    url = endpoint if endpoint.startswith("http") else f"{tracking}{API}/{endpoint}"
    return requests.request(method, url, json=body, timeout=60, **kwargs)


def post(tracking: str, endpoint: str, body: Any) -> requests.Response:
    return call(tracking, "POST", endpoint, body)


def get(tracking: str, endpoint: str, params: dict[str, Any]) -> requests.Response:
    return call(tracking, "GET", endpoint, params=params)


def assert_error(
    response: requests.Response, status: int = 400, code: str = INVALID, *, says: str = ""
) -> None:
    """MLflow's error body with the status the client expects, and optionally its wording."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    payload = response.json()
    assert set(payload) == {"error_code", "message"}, payload
    assert payload["error_code"] == code, payload
    assert says in payload["message"], payload


def assert_ok(response: requests.Response) -> None:
    assert response.status_code == 200, (response.status_code, response.text[:500])


@pytest.fixture
def run_id(client: MlflowClient) -> str:
    return client.create_run("0").info.run_id


def stored_state(client: MlflowClient, run_id: str) -> dict[str, Any]:
    """What a client can read back: the run's data and every experiment and run."""
    run = client.get_run(run_id)
    experiments = client.search_experiments(view_type=ViewType.ALL)
    runs = client.search_runs(
        [e.experiment_id for e in experiments], run_view_type=ViewType.ALL, max_results=50000
    )
    return {
        "params": run.data.params,
        "metrics": run.data.metrics,
        "tags": run.data.tags,
        "inputs": [d.dataset.name for d in run.inputs.dataset_inputs],
        "experiments": sorted(
            (e.experiment_id, e.name, sorted(e.tags.items())) for e in experiments
        ),
        "runs": sorted(r.info.run_id for r in runs),
    }


def pair(key: str, value: str = "v") -> dict[str, str]:
    return {"key": key, "value": value}


def pairs(count: int, prefix: str) -> list[dict[str, str]]:
    return [pair(f"{prefix}{i}") for i in range(count)]


# --- keys ------------------------------------------------------------------------------------

BAD_KEYS = {
    "251 characters": "k" * 251,
    "parent segment": "a/../b",
    "leading slash": "/a",
    "double slash": "a//b",
    "dot": ".",
    "dotdot": "..",
    "leading dotdot": "../a",
    "current segment": "a/./b",
    "trailing slash": "a/",
    "exclamation mark": "a!b",
    "backslash": "a\\b",
    "percent": "a%2e%2e",
    "hash": "a#b",
    "newline": "a\nb",
    "trailing newline": "ab\n",
    "tab": "a\tb",
    "nul": "a\x00b",
}
GOOD_KEYS = ["k" * 250, "a/b", "a.b", "a-b c:d", "_under", "métrica", "x/y/z.w"]


def key_writes(run_id: str, key: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every request that names a key: (endpoint, body) by name."""
    metric = {"key": key, "value": 1.0, "timestamp": 1, "step": 0}
    pair = {"key": key, "value": "v"}
    return {
        "log-parameter": ("runs/log-parameter", {"run_id": run_id, **pair}),
        "log-metric": ("runs/log-metric", {"run_id": run_id, **metric}),
        "set-tag": ("runs/set-tag", {"run_id": run_id, **pair}),
        "log-batch params": ("runs/log-batch", {"run_id": run_id, "params": [pair]}),
        "log-batch metrics": ("runs/log-batch", {"run_id": run_id, "metrics": [metric]}),
        "log-batch tags": ("runs/log-batch", {"run_id": run_id, "tags": [pair]}),
        "set-experiment-tag": (
            "experiments/set-experiment-tag",
            {"experiment_id": "0", **pair},
        ),
        "runs/create tags": ("runs/create", {"experiment_id": "0", "tags": [pair]}),
        "experiments/create tags": (
            "experiments/create",
            {"name": f"e-{uuid.uuid4().hex}", "tags": [pair]},
        ),
    }


def test_invalid_keys_are_refused_and_nothing_is_stored(
    tracking: str, client: MlflowClient, run_id: str, subtests: pytest.Subtests
) -> None:
    before = stored_state(client, run_id)
    for key_name, key in BAD_KEYS.items():
        for write, (endpoint, body) in key_writes(run_id, key).items():
            with subtests.test(write=write, key=key_name):
                assert_error(post(tracking, endpoint, body))
    assert stored_state(client, run_id) == before


def test_keys_within_the_rules_are_stored(
    tracking: str, client: MlflowClient, run_id: str, subtests: pytest.Subtests
) -> None:
    for key in GOOD_KEYS:
        for write, (endpoint, body) in key_writes(run_id, key).items():
            with subtests.test(write=write, key=key[:20]):
                assert_ok(post(tracking, endpoint, body))
    data = client.get_run(run_id).data
    assert set(GOOD_KEYS) <= set(data.params)
    assert set(GOOD_KEYS) <= set(data.metrics)
    assert set(GOOD_KEYS) <= set(data.tags)
    assert set(GOOD_KEYS) <= set(client.get_experiment("0").tags)


def test_a_key_over_250_characters_gets_mlflows_message(tracking: str, run_id: str) -> None:
    response = post(tracking, "runs/log-parameter", {"run_id": run_id, "key": "k" * 251})
    assert_error(response, says="exceeds the maximum length of 250")
    response = post(tracking, "runs/log-parameter", {"run_id": run_id, "key": "a/../b"})
    assert_error(response, says="must not resolve to other names")


# --- values: truncated like MLflow, or refused ------------------------------------------------


def test_long_param_and_tag_values_are_truncated_like_mlflow(
    tracking: str, client: MlflowClient, run_id: str
) -> None:
    long_param, long_tag = "p" * 6000 + "-cut", "t" * 8000 + "-cut"
    assert_ok(
        post(tracking, "runs/log-parameter", {"run_id": run_id, "key": "p1", "value": long_param})
    )
    # a replay of the same over-long value is the same param, not a change
    assert_ok(
        post(tracking, "runs/log-parameter", {"run_id": run_id, "key": "p1", "value": long_param})
    )
    batch = {
        "run_id": run_id,
        "params": [{"key": "p2", "value": long_param}, {"key": "exact", "value": "e" * 6000}],
        "tags": [{"key": "t2", "value": long_tag}],
    }
    assert_ok(post(tracking, "runs/log-batch", batch))
    assert_ok(post(tracking, "runs/set-tag", {"run_id": run_id, "key": "t1", "value": long_tag}))
    created = post(
        tracking,
        "runs/create",
        {"experiment_id": "0", "tags": [{"key": "t3", "value": long_tag}]},
    )
    assert_ok(created)

    data = client.get_run(run_id).data
    assert data.params["p1"] == "p" * 6000
    assert data.params["p2"] == "p" * 6000
    assert data.params["exact"] == "e" * 6000
    assert data.tags["t1"] == "t" * 8000
    assert data.tags["t2"] == "t" * 8000
    other = client.get_run(created.json()["run"]["info"]["run_id"])
    assert other.data.tags["t3"] == "t" * 8000


def test_params_are_immutable(tracking: str, client: MlflowClient, run_id: str) -> None:
    param = {"run_id": run_id, "key": "lr", "value": "0.1"}
    assert_ok(post(tracking, "runs/log-parameter", param))
    assert_ok(post(tracking, "runs/log-parameter", param))
    changed = post(tracking, "runs/log-parameter", {**param, "value": "0.2"})
    assert_error(changed, says="Changing param values is not allowed")
    batch = {"run_id": run_id, "params": [{"key": "lr", "value": "0.3"}], "tags": [pair("t")]}
    assert_error(post(tracking, "runs/log-batch", batch), says="Changing param values")
    data = client.get_run(run_id).data
    assert data.params == {"lr": "0.1"}
    assert "t" not in data.tags


def test_writes_to_deleted_runs_and_experiments_are_refused(
    tracking: str, client: MlflowClient, run_id: str, subtests: pytest.Subtests
) -> None:
    experiment_id = client.create_experiment("retired")
    retired_run = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    client.delete_experiment(experiment_id)
    before = stored_state(client, run_id)
    for target in (run_id, retired_run):
        for endpoint, body in {
            "runs/log-metric": {"key": "m", "value": 1, "timestamp": 1},
            "runs/log-parameter": pair("p"),
            "runs/set-tag": pair("t"),
            "runs/log-batch": {"tags": [pair("t")]},
            "runs/update": {"status": "FINISHED"},
        }.items():
            with subtests.test(endpoint=endpoint, run=target == run_id):
                assert_error(post(tracking, endpoint, {"run_id": target, **body}))
    for endpoint, body in {
        "runs/create": {"experiment_id": experiment_id},
        "experiments/set-experiment-tag": {"experiment_id": experiment_id, **pair("t")},
        "experiments/update": {"experiment_id": experiment_id, "new_name": "revived"},
    }.items():
        with subtests.test(endpoint=endpoint):
            assert_error(post(tracking, endpoint, body))
    assert stored_state(client, run_id) == before


def test_experiment_tag_values_over_20000_characters_are_refused(
    tracking: str, client: MlflowClient, run_id: str
) -> None:
    before = stored_state(client, run_id)
    too_long = {"key": "notes", "value": "n" * 20001}
    response = post(tracking, "experiments/set-experiment-tag", {"experiment_id": "0", **too_long})
    assert_error(response, says="exceeds the maximum length of 20000")
    assert_error(post(tracking, "experiments/create", {"name": "tagged", "tags": [too_long]}))
    assert stored_state(client, run_id) == before

    at_limit = {"experiment_id": "0", "key": "notes", "value": "n" * 20000}
    assert_ok(post(tracking, "experiments/set-experiment-tag", at_limit))
    assert client.get_experiment("0").tags["notes"] == "n" * 20000


BAD_EXPERIMENT_NAMES = {
    "empty": "",
    "spaces": "   ",
    "whitespace": "\t\n",
    "501 characters": "n" * 501,
    "number": 5,
    "list": ["x"],
    "object": {"name": "x"},
    "bool": True,
}


def test_invalid_experiment_names_are_refused(
    tracking: str, client: MlflowClient, subtests: pytest.Subtests
) -> None:
    def experiments() -> list[tuple[str, str, str, int]]:
        return sorted(
            (e.experiment_id, e.name, e.lifecycle_stage, e.last_update_time)
            for e in client.search_experiments(view_type=ViewType.ALL)
        )

    experiment_id = client.create_experiment("kept")
    before = experiments()
    for kind, name in BAD_EXPERIMENT_NAMES.items():
        with subtests.test(kind, endpoint="experiments/create"):
            assert_error(post(tracking, "experiments/create", {"name": name}))
        with subtests.test(kind, endpoint="experiments/update"):
            body = {"experiment_id": experiment_id, "new_name": name}
            assert_error(post(tracking, "experiments/update", body))
    assert experiments() == before


def test_experiment_names_up_to_500_characters_are_accepted(
    tracking: str, client: MlflowClient
) -> None:
    response = post(tracking, "experiments/create", {"name": "n" * 500})
    assert_ok(response)
    assert client.get_experiment(response.json()["experiment_id"]).name == "n" * 500
    assert_error(
        post(tracking, "experiments/create", {"name": "n" * 500}), code="RESOURCE_ALREADY_EXISTS"
    )


# --- log-batch -------------------------------------------------------------------------------


def metrics(count: int, prefix: str = "m") -> list[dict[str, Any]]:
    return [{"key": f"{prefix}{i}", "value": i, "timestamp": 1, "step": 0} for i in range(count)]


def test_batches_over_the_limits_store_nothing(
    tracking: str, client: MlflowClient, run_id: str, subtests: pytest.Subtests
) -> None:
    bad_metric = {"key": "bad!", "value": 1, "timestamp": 1}
    cases = {
        "1001 metrics": ({"metrics": metrics(1001)}, "at most 1000 metrics"),
        "101 params": ({"params": pairs(101, "p")}, "at most 100 params"),
        "101 tags": ({"tags": pairs(101, "t")}, "at most 100 tags"),
        "1001 items": (
            {"metrics": metrics(801), "params": pairs(100, "p"), "tags": pairs(100, "t")},
            "at most 1000 metrics, params, and tags",
        ),
        "duplicate param keys": (
            {"params": [{"key": "p", "value": "1"}, {"key": "p", "value": "2"}]},
            "Duplicate parameter keys",
        ),
        "a bad metric last": ({"metrics": [*metrics(999), bad_metric]}, ""),
        "a bad param last": ({"params": [*pairs(99, "p"), {"key": "/abs", "value": "v"}]}, ""),
        "a bad tag last": ({"metrics": metrics(10), "tags": [{"key": "..", "value": "v"}]}, ""),
        "metrics not a list": ({"metrics": {"key": "m", "value": 1, "timestamp": 1}}, ""),
        "a metric not an object": ({"metrics": ["m"]}, ""),
        "a param without key": ({"params": [{"value": "v"}]}, ""),
        "a param value not a string": ({"params": [{"key": "p", "value": 5}]}, ""),
    }
    before = stored_state(client, run_id)
    for name, (body, says) in cases.items():
        with subtests.test(name):
            assert_error(post(tracking, "runs/log-batch", {"run_id": run_id, **body}), says=says)
    assert stored_state(client, run_id) == before


def test_batches_at_the_limits_are_stored(tracking: str, client: MlflowClient, run_id: str) -> None:
    assert_ok(post(tracking, "runs/log-batch", {"run_id": run_id, "metrics": metrics(1000)}))
    full = {"metrics": metrics(800, "n"), "params": pairs(100, "p"), "tags": pairs(100, "t")}
    assert_ok(post(tracking, "runs/log-batch", {"run_id": run_id, **full}))
    data = client.get_run(run_id).data
    assert len(data.metrics) == 1800
    assert len(data.params) == 100
    assert {f"t{i}" for i in range(100)} <= set(data.tags)


# --- metric values, timestamps, steps --------------------------------------------------------

# Python refuses to build this int; to_json writes it into the body as a bare number.
FIVE_THOUSAND_DIGITS = "<5000 digits>"


def to_json(payload: Any) -> str:
    """JSON as Python writes it (NaN and Infinity included), with the 5000-digit number."""
    return json.dumps(payload).replace(json.dumps(FIVE_THOUSAND_DIGITS), "9" * 5000)


BAD_METRIC_FIELDS = {
    "value true": {"value": True},
    "value false": {"value": False},
    "value string": {"value": "high"},
    "value empty string": {"value": ""},
    "value null": {"value": None},
    "value missing": {"value": ...},
    "value list": {"value": [1.0]},
    "value object": {"value": {"v": 1.0}},
    "timestamp missing": {"timestamp": ...},
    "timestamp null": {"timestamp": None},
    "timestamp negative": {"timestamp": -1},
    "timestamp fraction": {"timestamp": 1.5},
    "timestamp string": {"timestamp": "yesterday"},
    "timestamp bool": {"timestamp": True},
    "timestamp over int64": {"timestamp": 2**63},
    "timestamp float over int64": {"timestamp": 1e19},
    "timestamp NaN": {"timestamp": float("nan")},
    "timestamp Infinity": {"timestamp": float("inf")},
    "timestamp 5000 digits": {"timestamp": FIVE_THOUSAND_DIGITS},
    "step over int64": {"step": 2**63},
    "step under int64": {"step": -(2**63) - 1},
    "step fraction": {"step": 0.5},
    "step string": {"step": "first"},
    "step bool": {"step": False},
    "step list": {"step": [1]},
}


def metric_with(change: dict[str, Any]) -> dict[str, Any]:
    metric = {"key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    for field, value in change.items():
        if value is ...:
            del metric[field]
        else:
            metric[field] = value
    return metric


def test_invalid_metric_values_timestamps_and_steps_are_refused(
    tracking: str, client: MlflowClient, run_id: str, subtests: pytest.Subtests
) -> None:
    for name, change in BAD_METRIC_FIELDS.items():
        metric = metric_with(change)
        with subtests.test(name, endpoint="log-metric"):
            body = to_json({"run_id": run_id, **metric})
            response = call(
                tracking,
                "POST",
                "runs/log-metric",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            assert_error(response)
        with subtests.test(name, endpoint="log-batch"):
            body = to_json({"run_id": run_id, "metrics": [metric]})
            response = call(
                tracking,
                "POST",
                "runs/log-batch",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            assert_error(response)
    assert client.get_run(run_id).data.metrics == {}
    assert client.get_metric_history(run_id, "m") == []


def test_metric_values_at_the_edges_are_stored(
    tracking: str, client: MlflowClient, run_id: str
) -> None:
    edges = [
        metric_with({"key": "nan", "value": "NaN"}),
        metric_with({"key": "inf", "value": "Infinity"}),
        metric_with({"key": "ninf", "value": "-Infinity"}),
        metric_with({"key": "int", "value": 7}),
        metric_with({"key": "big", "value": 1.7976931348623157e308}),
        metric_with({"key": "late", "timestamp": INT64_MAX}),
        metric_with({"key": "zero", "timestamp": 0}),
        metric_with({"key": "high", "step": INT64_MAX}),
        metric_with({"key": "low", "step": -(2**63)}),
        metric_with({"key": "string-int", "timestamp": "12", "step": "-3"}),
    ]
    assert_ok(post(tracking, "runs/log-batch", {"run_id": run_id, "metrics": edges}))
    stored = client.get_run(run_id).data.metrics
    assert stored["inf"] == float("inf")
    assert stored["ninf"] == float("-inf")
    assert stored["big"] == 1.7976931348623157e308
    assert stored["nan"] != stored["nan"]
    assert [m.timestamp for m in client.get_metric_history(run_id, "late")] == [INT64_MAX]
    assert [m.step for m in client.get_metric_history(run_id, "high")] == [INT64_MAX]
    assert [m.step for m in client.get_metric_history(run_id, "low")] == [-(2**63)]
    assert [(m.timestamp, m.step) for m in client.get_metric_history(run_id, "string-int")] == [
        (12, -3)
    ]


def test_run_times_out_of_range_are_refused(
    tracking: str, client: MlflowClient, run_id: str, subtests: pytest.Subtests
) -> None:
    before = stored_state(client, run_id)
    for value in (2**63, -(2**63) - 1, 1.5, "noon", True):
        with subtests.test(start_time=value):
            assert_error(post(tracking, "runs/create", {"experiment_id": "0", "start_time": value}))
        with subtests.test(end_time=value):
            assert_error(post(tracking, "runs/update", {"run_id": run_id, "end_time": value}))
    assert stored_state(client, run_id) == before


# --- search and pagination -------------------------------------------------------------------

SEARCHES = {
    "runs/search": {"experiment_ids": ["0"]},
    "experiments/search": {},
    "logged-models/search": {"experiment_ids": ["0"]},
}


def test_search_max_results_outside_1_to_50000_is_refused(
    tracking: str, subtests: pytest.Subtests
) -> None:
    for endpoint, body in SEARCHES.items():
        for max_results in (0, -1, 50001, 2**63, "many", True, 1.5):
            with subtests.test(endpoint=endpoint, max_results=max_results):
                assert_error(post(tracking, endpoint, {**body, "max_results": max_results}))
        if endpoint != "logged-models/search":
            # MLflow's words (its SQL store's) for runs and experiments.
            for max_results in (0, -1):
                with subtests.test(endpoint=endpoint, max_results=max_results, words=True):
                    assert_error(
                        post(tracking, endpoint, {**body, "max_results": max_results}),
                        says=f"Invalid value {max_results} for parameter 'max_results' supplied. "
                        "It must be a positive integer",
                    )
        with subtests.test(endpoint=endpoint, max_results=50000):
            assert_ok(post(tracking, endpoint, {**body, "max_results": 50000}))
    for max_results in ("0", "50001"):
        with subtests.test("experiments/search over GET", max_results=max_results):
            assert_error(get(tracking, "experiments/search", {"max_results": max_results}))


def test_metric_history_pages_over_25000_are_refused(
    tracking: str, client: MlflowClient, run_id: str, subtests: pytest.Subtests
) -> None:
    client.log_metric(run_id, "loss", 0.5, timestamp=1, step=0)
    for max_results in ("25001", "0", "-1", "lots", str(2**63)):
        with subtests.test(max_results=max_results):
            params = {"run_id": run_id, "metric_key": "loss", "max_results": max_results}
            assert_error(get(tracking, "metrics/get-history", params))
    params = {"run_id": run_id, "metric_key": "loss", "max_results": "25000"}
    response = get(tracking, "metrics/get-history", params)
    assert_ok(response)
    assert [m["value"] for m in response.json()["metrics"]] == [0.5]


def encoded(payload: str) -> str:
    return base64.b64encode(payload.encode()).decode()


BAD_PAGE_TOKENS = {
    "garbage": "not a token!",
    "bad padding": "abc",
    "non-ascii": "jeton-ü",
    "base64 of text": encoded("hello"),
    "json list": encoded("[1]"),
    "no offset": encoded('{"page": 2}'),
    "negative offset": encoded('{"offset": -1}'),
    "offset string": encoded('{"offset": "ten"}'),
    "offset fraction": encoded('{"offset": 1.5}'),
    "offset bool": encoded('{"offset": true}'),
    "offset null": encoded('{"offset": null}'),
    "offset NaN": encoded('{"offset": NaN}'),
    "offset Infinity": encoded('{"offset": Infinity}'),
    "offset over int64": encoded(f'{{"offset": {2**63}}}'),
    "offset 5000 digits": encoded('{"offset": ' + "9" * 5000 + "}"),
    # small enough for a URL, deep enough to exhaust a recursive parser
    "deeply nested": encoded("[" * 10000 + "]" * 10000),
}


def test_garbage_page_tokens_are_refused(
    tracking: str, client: MlflowClient, run_id: str, subtests: pytest.Subtests
) -> None:
    client.log_metric(run_id, "loss", 0.5)
    for name, token in BAD_PAGE_TOKENS.items():
        for endpoint, body in SEARCHES.items():
            with subtests.test(name, endpoint=endpoint):
                assert_error(post(tracking, endpoint, {**body, "page_token": token}))
        with subtests.test(name, endpoint="metrics/get-history"):
            params = {"run_id": run_id, "metric_key": "loss", "page_token": token}
            assert_error(get(tracking, "metrics/get-history", params))


def test_the_largest_page_offset_is_an_empty_last_page(
    tracking: str, client: MlflowClient, run_id: str, subtests: pytest.Subtests
) -> None:
    client.log_metric(run_id, "loss", 0.5)
    token = encoded(f'{{"offset": {INT64_MAX}}}')
    for endpoint, body in SEARCHES.items():
        with subtests.test(endpoint=endpoint):
            response = post(tracking, endpoint, {**body, "page_token": token, "max_results": 50000})
            assert_ok(response)
            assert "next_page_token" not in response.json()
            assert not any(isinstance(v, list) and v for v in response.json().values())
    with subtests.test(endpoint="metrics/get-history"):
        # History pages resume after the last point they returned, not at an offset.
        last = encoded(f'{{"after": [{INT64_MAX}, {INT64_MAX}, "inf", true]}}')
        params = {"run_id": run_id, "metric_key": "loss", "page_token": last, "max_results": "5"}
        response = get(tracking, "metrics/get-history", params)
        assert_ok(response)
        assert response.json().get("metrics", []) == []


def test_run_times_compare_with_any_number_as_numbers(
    tracking: str, client: MlflowClient, run_id: str, subtests: pytest.Subtests
) -> None:
    start = client.get_run(run_id).info.start_time
    experiment_id = client.get_run(run_id).info.experiment_id
    expected = {
        f"start_time < {start}.5": True,  # was compared with int(1.5) = 1
        f"start_time > {start}.5": False,
        f"start_time = {start}.5": False,
        f"start_time != {start}.5": True,
        "start_time > -1e400": True,  # infinities: were a 500
        "start_time > 1e400": False,
        "start_time < " + "9" * 4301: True,  # past int()'s digit limit: was a 500
        "created >= -" + "9" * 30: True,
    }
    for condition, found in expected.items():
        with subtests.test(condition[:40]):
            response = post(
                tracking, "runs/search", {"experiment_ids": [experiment_id], "filter": condition}
            )
            assert_ok(response)
            assert bool(response.json().get("runs")) is found
    with subtests.test("experiments"):
        response = post(tracking, "experiments/search", {"filter": "creation_time < " + "9" * 4301})
        assert_ok(response)
        assert response.json()["experiments"]


def conditions(count: int) -> str:
    return " AND ".join(f"params.p{index} != 'x'" for index in range(count))


REFUSED_SEARCHES = {
    "21 conditions": ("runs/search", {"filter": conditions(21)}, "at most 20"),
    "21 experiment conditions": (
        "experiments/search",
        {"filter": " AND ".join(f"tags.t{index} != 'x'" for index in range(21))},
        "at most 20",
    ),
    "21 order keys": (
        "runs/search",
        {"order_by": [f"params.p{index}" for index in range(21)]},
        "at most 20",
    ),
    "LIKE ending in the escape character": (
        "runs/search",
        {"filter": "run_name LIKE '%\\'"},
        "escape character",
    ),
    "ILIKE on a tag ending in the escape character": (
        "experiments/search",
        {"filter": "tags.t ILIKE 'a\\\\\\'"},
        "escape character",
    ),
    "a digit that int() cannot read as a view type": ("runs/search", {"run_view_type": "²"}, ""),
    "LIKE on a logged model's experiment id": (
        "logged-models/search",
        {"filter": "experiment_id LIKE '0'"},
        "cannot be used",
    ),
    # Quadratic in the parser's regular expressions before: minutes at this length.
    "a long number that ends in a letter": ("runs/search", {"filter": "9" * 50_000 + "x"}, ""),
    "an order key padded with spaces": (
        "runs/search",
        {"order_by": ["a" + " " * 50_000 + "x"]},
        "Could not be parsed",
    ),
}


def test_searches_that_failed_the_server_are_refused(
    tracking: str, subtests: pytest.Subtests
) -> None:
    for name, (endpoint, body, says) in REFUSED_SEARCHES.items():
        with subtests.test(name):
            body = {"experiment_ids": ["0"], **body} if endpoint != "experiments/search" else body
            assert_error(post(tracking, endpoint, body), says=says)
    with subtests.test("20 conditions and 20 order keys"):
        body = {
            "experiment_ids": ["0"],
            "filter": conditions(20),
            "order_by": [f"params.p{index}" for index in range(20)],
        }
        assert_ok(post(tracking, "runs/search", body))
    with subtests.test("a pattern ending in an escaped backslash"):
        assert_ok(post(tracking, "runs/search", {"filter": "run_name LIKE '%\\\\'"}))
    with subtests.test("view type over GET"):
        assert_error(get(tracking, "experiments/search", {"view_type": "²"}))


# --- datasets --------------------------------------------------------------------------------


def dataset_input(**changes: Any) -> dict[str, Any]:
    dataset = {"name": "d", "digest": "abc", "source_type": "local", "source": "{}"}
    tags = changes.pop("tags", [{"key": "mlflow.data.context", "value": "train"}])
    dataset.update(changes)
    return {"dataset": {k: v for k, v in dataset.items() if v is not ...}, "tags": tags}


def test_datasets_over_the_limits_are_refused(
    tracking: str, client: MlflowClient, run_id: str, subtests: pytest.Subtests
) -> None:
    cases = {
        "name over 500": dataset_input(name="n" * 501),
        "digest over 36": dataset_input(digest="d" * 37),
        "source over 65535": dataset_input(source="s" * 65536),
        "source type over 36": dataset_input(source_type="t" * 37),
        "schema over 1048575": dataset_input(schema="s" * 1048576),
        "profile over 16777215": dataset_input(profile="p" * 16777216),
        "tag key over 255": dataset_input(tags=[{"key": "k" * 256, "value": "v"}]),
        "tag value over 500": dataset_input(tags=[{"key": "k", "value": "v" * 501}]),
        "name missing": dataset_input(name=...),
        "name not a string": dataset_input(name=5),
        "dataset missing": {"tags": []},
        "tags not a list": dataset_input(tags="train"),
    }
    before = stored_state(client, run_id)
    for name, item in cases.items():
        with subtests.test(name):
            body = {"run_id": run_id, "datasets": [dataset_input(name="fine"), item]}
            assert_error(post(tracking, "runs/log-inputs", body))
    assert stored_state(client, run_id) == before


def test_datasets_at_the_limits_are_stored(
    tracking: str, client: MlflowClient, run_id: str
) -> None:
    item = dataset_input(
        name="n" * 500,
        digest="d" * 36,
        source="s" * 65535,
        source_type="t" * 36,
        tags=[{"key": "k" * 255, "value": "v" * 500}],
    )
    assert_ok(post(tracking, "runs/log-inputs", {"run_id": run_id, "datasets": [item]}))
    (stored,) = client.get_run(run_id).inputs.dataset_inputs
    assert (stored.dataset.name, stored.dataset.digest) == ("n" * 500, "d" * 36)
    assert len(stored.dataset.source) == 65535
    assert stored.tags[0].value == "v" * 500


def test_fields_wider_than_their_columns_are_refused(
    tracking: str, client: MlflowClient, run_id: str, subtests: pytest.Subtests
) -> None:
    """Fields MLflow does not check itself, but whose database columns are bounded (PostgreSQL
    fails the insert where SQLite would store them)."""
    created = post(tracking, "logged-models", {"experiment_id": "0", "name": "model"})
    model_id = created.json()["model"]["info"]["model_id"]
    metric = {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1, "model_id": model_id}
    cases = {
        "source_run_id over 32": (
            "logged-models",
            {"experiment_id": "0", "source_run_id": "r" * 33},
        ),
        "model_type over 500": ("logged-models", {"experiment_id": "0", "model_type": "t" * 501}),
        "metric dataset_name over 500": ("runs/log-metric", {**metric, "dataset_name": "d" * 501}),
        "metric dataset_digest over 36": (
            "runs/log-metric",
            {**metric, "dataset_digest": "d" * 37},
        ),
        "metric dataset_name not a string": ("runs/log-metric", {**metric, "dataset_name": 5}),
        "metric model_id not a string": ("runs/log-metric", {**metric, "model_id": 5}),
        "input model_id over 64": (
            "runs/log-inputs",
            {"run_id": run_id, "models": [{"model_id": "m" * 65}]},
        ),
    }
    before = stored_state(client, run_id)
    for name, (endpoint, body) in cases.items():
        with subtests.test(name):
            assert_error(post(tracking, endpoint, body))
    assert stored_state(client, run_id) == before
    models = post(tracking, "logged-models/search", {"experiment_ids": ["0"]}).json()["models"]
    assert [m["info"]["model_id"] for m in models] == [model_id]


# --- workspaces ------------------------------------------------------------------------------

BAD_WORKSPACE_NAMES = {
    "one character": "a",
    "64 characters": "w" * 64,
    "uppercase": "Team",
    "underscore": "team_a",
    "leading hyphen": "-team",
    "trailing hyphen": "team-",
    "dot": "team.a",
    "space": "team a",
    "non-ascii": "équipe",
    "trailing newline": "team\n",
    "dotdot": "..",
    "reserved workspaces": "workspaces",
    "reserved api": "api",
    "reserved ajax-api": "ajax-api",
    "reserved static-files": "static-files",
}


def test_native_workspace_api_applies_mlflows_name_rules(
    live_server: LiveServer, admin_signed_in: str, subtests: pytest.Subtests
) -> None:
    url = f"{live_server.url}{WORKSPACES}"
    for name_kind, name in BAD_WORKSPACE_NAMES.items():
        with subtests.test(name_kind, method="POST"):
            assert_error(requests.post(url, json={"name": name}, timeout=60))
        for method in ("GET", "PATCH", "DELETE"):
            with subtests.test(name_kind, method=method):
                # raw, so that ".." reaches the server as a name
                response = send(
                    live_server.url,
                    method,
                    f"{WORKSPACES}/{quote(name, safe='')}",
                    body=b'{"description": "x"}',
                )
                assert response.status == 400, response.body
                assert response.json()["error_code"] == INVALID
    for name_kind, name in {"empty": "", "number": 5, "null": None, "list": ["ab"]}.items():
        with subtests.test(name_kind, method="POST"):
            assert_error(requests.post(url, json={"name": name}, timeout=60))
    with subtests.test("default", method="POST"):
        assert_error(requests.post(url, json={"name": "default"}, timeout=60))

    valid = ["ab", "a1", "team-a", "w" * 63]
    for name in valid:
        with subtests.test("valid", name=name):
            assert requests.post(url, json={"name": name}, timeout=60).status_code == 201
    with subtests.test("duplicate"):
        response = requests.post(url, json={"name": "ab"}, timeout=60)
        assert_error(response, code="RESOURCE_ALREADY_EXISTS")
    listed = {w["name"] for w in requests.get(url, timeout=60).json()["workspaces"]}
    assert set(valid) <= listed
    assert not listed & {*BAD_WORKSPACE_NAMES.values(), ""}


def test_unknown_workspaces_in_headers_and_uris_are_not_found(
    live_server: LiveServer, tracking: str, subtests: pytest.Subtests
) -> None:
    search = f"{API}/experiments/search"
    for header in ("nobody", "../../etc", "x" * 5000, "default%00", "Team A"):
        with subtests.test(header=header):
            response = send(
                live_server.url, "POST", search, body=b"{}", headers={"X-MLFLOW-WORKSPACE": header}
            )
            assert response.status == 404, response.body
            assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    prefix = urlsplit(tracking).path
    group, workspace = prefix.split("/")[4], prefix.split("/")[6]
    for odd_group, odd_workspace in [
        ("nobody", workspace),
        (group, "nobody"),
        ("%00", workspace),
        (group, "ws%00"),
        (group, "..%2f.."),
        ("x" * 5000, workspace),
    ]:
        with subtests.test(group=odd_group[:20], workspace=odd_workspace[:20]):
            path = f"/mlflow/v1.0/resourceGroups/{odd_group}/workspaces/{odd_workspace}{search}"
            response = send(live_server.url, "POST", path, body=b"{}")
            assert 400 <= response.status < 500, response.body
            assert set(response.json()) == {"error_code", "message"}


# --- identifiers and request bodies ----------------------------------------------------------

ODD_RUN_IDS = [
    "../../etc/passwd",
    "..",
    "a/b",
    "run\x00id",
    "' OR '1'='1",
    "%",
    "_",
    "*",
    "é",
    "\ud800",
    " ",
    "x" * 10000,
]


def test_run_ids_with_odd_characters_are_not_found(
    tracking: str, client: MlflowClient, run_id: str, subtests: pytest.Subtests
) -> None:
    before = stored_state(client, run_id)
    for odd in ODD_RUN_IDS:
        with subtests.test(run_id=odd[:20], endpoint="runs/get"):
            # GET fields travel in the query string (a lone surrogate cannot: use the JSON ones)
            if odd != "\ud800":
                response = get(tracking, "runs/get", {"run_id": odd})
                assert response.status_code in (400, 404), response.text
                assert set(response.json()) == {"error_code", "message"}
        for endpoint, body in {
            "runs/log-metric": {"key": "m", "value": 1, "timestamp": 1},
            "runs/log-parameter": {"key": "p", "value": "v"},
            "runs/set-tag": {"key": "t", "value": "v"},
            "runs/update": {"status": "FINISHED"},
            "runs/delete": {},
        }.items():
            with subtests.test(run_id=odd[:20], endpoint=endpoint):
                data = json.dumps({"run_id": odd, **body})
                response = call(
                    tracking,
                    "POST",
                    endpoint,
                    data=data,
                    headers={"Content-Type": "application/json"},
                )
                assert response.status_code in (400, 404), response.text
                assert set(response.json()) == {"error_code", "message"}
    for value in (5, True, ["a"], {"id": "a"}):
        with subtests.test(run_id=value):
            assert_error(
                post(tracking, "runs/log-parameter", {"run_id": value, "key": "p", "value": "v"})
            )
    assert stored_state(client, run_id) == before


def test_unstorable_strings_are_refused_everywhere(
    tracking: str, client: MlflowClient, run_id: str, subtests: pytest.Subtests
) -> None:
    """NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8) cannot be stored anywhere."""
    before = stored_state(client, run_id)
    for bad in ("a\x00b", "a\ud800b"):
        for endpoint, body in {
            "runs/log-parameter": {"run_id": run_id, "key": "p", "value": bad},
            "runs/set-tag": {"run_id": run_id, "key": "t", "value": bad},
            "runs/log-batch": {"run_id": run_id, "tags": [{"key": "t", "value": bad}]},
            "runs/update": {"run_id": run_id, "run_name": bad},
            "runs/create": {"experiment_id": "0", "user_id": bad},
            "experiments/create": {"name": bad},
            "experiments/set-experiment-tag": {"experiment_id": "0", "key": "t", "value": bad},
            "experiments/update": {"experiment_id": "0", "new_name": bad},
            "runs/search": {"experiment_ids": ["0"], "filter": f"tags.t = '{bad}'"},
            "runs/log-inputs": {"run_id": run_id, "datasets": [dataset_input(name=bad)]},
            "logged-models": {"experiment_id": "0", "name": "m", "model_type": bad},
        }.items():
            with subtests.test(endpoint=endpoint, value=repr(bad)):
                data = json.dumps({**body})
                response = call(
                    tracking,
                    "POST",
                    endpoint,
                    data=data,
                    headers={"Content-Type": "application/json"},
                )
                assert_error(response)
    for endpoint, params in {
        "runs/get": {"run_id": f"{run_id}\x00"},
        "experiments/get": {"experiment_id": "0\x00"},
        "experiments/get-by-name": {"experiment_name": "Default\x00"},
        "metrics/get-history": {"run_id": run_id, "metric_key": "m\x00"},
    }.items():
        with subtests.test(endpoint=endpoint, value="NUL in the query string"):
            assert_error(get(tracking, endpoint, params))
    assert stored_state(client, run_id) == before


def test_malformed_and_huge_bodies_are_refused(
    tracking: str, client: MlflowClient, run_id: str, subtests: pytest.Subtests
) -> None:
    before = stored_state(client, run_id)
    endpoint = f"{tracking}{API}/runs/log-batch"
    huge_tag = {"key": "t", "value": "v" * (21 * 1024 * 1024)}
    bodies = {
        "over the body limit": json.dumps({"run_id": run_id, "tags": [huge_tag]}).encode(),
        "deeply nested": ("[" * 100000 + "]" * 100000).encode(),
        "deeply nested field": (
            f'{{"run_id": "{run_id}", "tags": ' + "[" * 100000 + "]" * 100000 + "}"
        ).encode(),
        # Deep enough for the error message's json.dumps, not for the parser: was a 500.
        "a field nested 1,000 deep": (
            f'{{"run_id": "{run_id}", "metrics": [{{"key": "m", "value": '
            + "[" * 1000
            + "]" * 1000
            + ', "timestamp": 1}]}'
        ).encode(),
        "not utf-8": b'{"run_id": "\xff\xfe"}',
        "truncated": b'{"run_id": "',
        "array": b"[]",
        "string": b'"text"',
        "number": b"5",
        "double-encoded array": json.dumps("[1, 2]").encode(),
    }
    for name, body in bodies.items():
        with subtests.test(name):
            response = requests.post(
                endpoint, data=body, headers={"Content-Type": "application/json"}, timeout=60
            )
            assert_error(response)
    assert stored_state(client, run_id) == before


def test_a_refused_value_is_shown_cut_short(tracking: str) -> None:
    response = post(tracking, "experiments/create", {"name": list(range(100_000))})
    assert_error(response, says="Invalid value [0,1,2,")
    assert "... (588,891 characters)" in response.json()["message"]
    assert len(response.text) < 2000
