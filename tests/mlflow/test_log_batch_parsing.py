"""Log-batch bodies of the usual shape are decoded by msgspec straight into columns; every
other body goes through RequestFields. The two must read a body they both take identically,
and the fast one must decline whatever only the general one knows how to answer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import RequestFactory

from experiments.mlflow.parsing import RequestFields
from experiments.mlflow.views_runs import _metric_points, _plain_log_batch
from experiments.services.runs import MetricPoints

RUN = "0123456789abcdef0123456789abcdef"


def _request(body: bytes) -> Any:
    return RequestFactory().post("/", data=body, content_type="application/json")


def _general(body: bytes) -> tuple[str, list[Any], list[Any], list[Any]]:
    fields = RequestFields.from_request(_request(body))
    metrics = _metric_points(fields.objects("metrics"))
    points = metrics.points() if isinstance(metrics, MetricPoints) else list(metrics)
    return fields.run_id(), points, fields.objects("params"), fields.objects("tags")


TAKEN = {
    "the mlflow client's shape": {
        "run_id": RUN,
        "metrics": [
            {"key": "loss", "value": 0.25, "timestamp": 1_700_000_000_000, "step": 3},
            {"key": "acc", "value": 1, "timestamp": 1_700_000_000_001, "step": -2},
        ],
        "params": [{"key": "lr", "value": "0.1"}],
        "tags": [{"key": "team", "value": "vision"}],
    },
    "legacy run_uuid, no step, no params": {
        "run_uuid": RUN,
        "metrics": [{"key": "loss", "value": -1.5e300, "timestamp": 0}],
    },
    "integer value past 2**53 (17 digits)": {
        "run_id": RUN,
        "metrics": [{"key": "big", "value": 2**55 + 1, "timestamp": 5, "step": 2**53 + 1}],
    },
    "unknown top-level field": {"run_id": RUN, "metrics": [], "extra": {"x": [1]}},
}


def _one_metric(fields: str, key: str = "k") -> str:
    return '{"run_id": "RUN", "metrics": [{"key": "' + key + '", ' + fields + "}]}"


DECLINED = {
    "NaN as a string": _one_metric('"value": "NaN", "timestamp": 1'),
    "NaN literal": _one_metric('"value": NaN, "timestamp": 1'),
    "boolean value": _one_metric('"value": true, "timestamp": 1'),
    "null step": _one_metric('"value": 1, "timestamp": 1, "step": null'),
    "timestamp as a string": _one_metric('"value": 1, "timestamp": "1"'),
    "fractional timestamp": _one_metric('"value": 1, "timestamp": 1.5'),
    "model id": _one_metric('"value": 1, "timestamp": 1, "model_id": "m"'),
    "timestamp past int64": _one_metric('"value": 1, "timestamp": 99999999999999999999'),
    "empty key": _one_metric('"value": 1, "timestamp": 1', key=""),
    "NUL in a key": _one_metric('"value": 1, "timestamp": 1', key="a\\u0000"),
    "lone surrogate": _one_metric('"value": 1, "timestamp": 1', key="\\ud800"),
    "params not a list": '{"run_id": "RUN", "params": {"key": "p"}}',
    "no run id": '{"metrics": [{"key": "k", "value": 1, "timestamp": 1}]}',
    "run id not a string": '{"run_id": 5, "metrics": []}',
    "double-encoded": '"{\\"run_id\\": \\"RUN\\"}"',
    "not JSON": '{"run_id": "RUN"',
}
DECLINED_BYTES = {
    "not UTF-8": b'{"run_id": "\xff\xfe", "metrics": []}',
    "nested deeper than a decoder goes": b'{"run_id": "r", "tags": '
    + b"[" * 100_000
    + b"]" * 100_000
    + b"}",
}


@pytest.mark.parametrize("name", sorted(TAKEN))
def test_plain_bodies_are_decoded_as_the_general_path_reads_them(name: str) -> None:
    body = json.dumps(TAKEN[name]).encode()
    plain = _plain_log_batch(_request(body))
    assert plain is not None, "the fast path declined a body of the usual shape"
    run_id, metrics, params, tags = plain
    assert isinstance(metrics, MetricPoints)
    assert (run_id, metrics.points(), params, tags) == _general(body)
    assert all(type(value) is float for value in metrics.values)


@pytest.mark.parametrize("name", sorted(DECLINED) + sorted(DECLINED_BYTES))
def test_other_bodies_are_left_to_the_general_path(name: str) -> None:
    body = DECLINED_BYTES.get(name) or DECLINED[name].replace("RUN", RUN).encode()
    assert _plain_log_batch(_request(body)) is None
