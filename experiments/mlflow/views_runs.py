"""MLflow run and metric endpoints (/api/2.0/mlflow/runs/*, /metrics/*)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from django.http import HttpRequest

from experiments.choices import RunStatus
from experiments.mlflow.endpoint import endpoint, held_run
from experiments.mlflow.errors import MlflowError
from experiments.mlflow.parsing import (
    RequestFields,
    decode_plain,
    key_value_pairs,
    missing,
    to_double,
    to_int64,
    wrong_type,
)
from experiments.mlflow.wire import run_info_message, run_message, wire_float
from experiments.models import Workspace
from experiments.selectors.access import Credential
from experiments.selectors.experiments import experiment_get
from experiments.selectors.runs import metric_history, run_details, run_get
from experiments.services import runs as services
from experiments.services.runs import DatasetSpec, MetricPoint, MetricPoints

RUN_STATUSES = [
    RunStatus.RUNNING,
    RunStatus.SCHEDULED,
    RunStatus.FINISHED,
    RunStatus.FAILED,
    RunStatus.KILLED,
]
# get-history pages are at most this long (MLflow's GET_METRIC_HISTORY_MAX_RESULTS).
MAX_HISTORY_PAGE = 25000


def _run_of(fields: RequestFields, workspace: Workspace):  # noqa: ANN202
    return run_get(workspace=workspace, run_id=fields.run_id())


@endpoint("POST", write=True)
def create(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    experiment = experiment_get(
        workspace=workspace, experiment_id=fields.string("experiment_id") or "0"
    )
    run = services.run_create(
        experiment=experiment,
        user_id=fields.string("user_id"),
        start_time=fields.int64("start_time"),
        run_name=fields.string("run_name"),
        tags=key_value_pairs(fields.objects("tags"), "tags"),
    )
    return {"run": run_message(run_details(run))}


@endpoint("POST", write=True)
def update(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    run = _run_of(fields, workspace)
    status = fields.enum("status", RUN_STATUSES, "") if fields.has("status") else None
    run = services.run_update(
        run=run,
        status=RunStatus(status) if status else None,
        end_time=fields.int64("end_time"),
        run_name=fields.string("run_name") or None,
    )
    return {"run_info": run_info_message(run)}


@endpoint("POST", write=True)
def delete(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    services.run_delete(run=_run_of(RequestFields.from_request(request), workspace))
    return {}


@endpoint("POST", write=True)
def restore(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    services.run_restore(run=_run_of(RequestFields.from_request(request), workspace))
    return {}


@endpoint("GET")
def get(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    run = _run_of(RequestFields.from_request(request), workspace)
    return {"run": run_message(run_details(run))}


def _metric_point(item: dict[str, Any], path: str) -> MetricPoint:
    prefix = f"{path}." if path else ""
    key = item.get("key")
    if key is None or key == "":
        raise missing(f"{prefix}key")
    if not isinstance(key, str):
        raise wrong_type(f"{prefix}key", key)
    value = item.get("value")
    if value is None:
        raise missing(f"{prefix}value")
    timestamp = item.get("timestamp")
    if timestamp is None:
        raise missing(f"{prefix}timestamp")
    step = item.get("step")
    optional: dict[str, Any] = {}
    for name in ("model_id", "dataset_name", "dataset_digest"):
        optional[name] = item.get(name) or None
        if optional[name] is not None and not isinstance(optional[name], str):
            raise wrong_type(f"{prefix}{name}", optional[name])
    return MetricPoint(
        key,
        to_double(value, f"{prefix}value"),
        to_int64(timestamp, f"{prefix}timestamp"),
        0 if step is None or step == "" else to_int64(step, f"{prefix}step"),
        **optional,
    )


# Integers a double holds exactly: larger ones take the checked path (float() may overflow).
_INT53 = 2**53
_PLAIN_FIELDS = 4  # key, value, timestamp, step


def _metric_points(items: list[dict[str, Any]]) -> Sequence[MetricPoint] | MetricPoints:
    """The metrics of a log-batch that _plain_log_batch did not take ("NaN" values, null
    steps, a bad field somewhere). Where every point still has the usual shape (string keys,
    numbers, integer timestamps and steps, no other field), they are read column by column
    and checked a column at a time; anything else goes point by point through _metric_point,
    with its checks and messages."""
    keys = [item.get("key") for item in items]
    values = [item.get("value") for item in items]
    timestamps = [item.get("timestamp") for item in items]
    steps = [item.get("step") for item in items]
    missing_steps = steps.count(None)
    if (
        # Every field is one of the four (key, value and timestamp are there: types below).
        sum(map(len, items)) == _PLAIN_FIELDS * len(items) - missing_steps
        and set(map(type, keys)) == {str}
        and "" not in keys
        and set(map(type, timestamps)) == {int}
        and set(map(type, steps)) <= {int, type(None)}
    ):
        value_types = set(map(type, values))
        if value_types <= {float, int}:
            if int in value_types:
                if not all(-_INT53 <= value <= _INT53 for value in values):
                    return _checked_points(items)
                values = [float(value) for value in values]
            if missing_steps:
                steps = [0 if step is None else step for step in steps]
            return MetricPoints(keys, values, timestamps, steps)
    return _checked_points(items)


def _checked_points(items: list[dict[str, Any]]) -> list[MetricPoint]:
    return [_metric_point(item, f"metrics[{index}]") for index, item in enumerate(items)]


def _run_id_in_body(request: HttpRequest) -> str | None:
    """The run id of the request's fields (read once: the view reads the same), None if it
    has none (the view says what is wrong)."""
    try:
        return RequestFields.from_request(request).run_id()
    except MlflowError:
        return None


def _log_metric_at_once(
    request: HttpRequest, credential: Credential, name: str, group_name: str | None
) -> bool:
    """log_metric in one round trip (see endpoint's at_once); False for a request it does not
    take, bad fields included (the usual way says what is wrong with them)."""
    try:
        fields = RequestFields.from_request(request)
        run_id = fields.run_id()
        point = _metric_point(fields.data, "")
    except MlflowError:
        return False
    return services.run_log_metric_at_once(
        credential=credential, name=name, group_name=group_name, run_uuid=run_id, point=point
    )


@endpoint("POST", write=True, holds_run=_run_id_in_body, at_once=_log_metric_at_once)
def log_metric(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    run = held_run(request, workspace, fields.run_id())
    services.run_log_batch(run=run, metrics=[_metric_point(fields.data, "")], single=True)
    return {}


@endpoint("POST", write=True, holds_run=_run_id_in_body)
def log_param(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    run = held_run(request, workspace, fields.run_id())
    key = fields.string("key", required=True)
    services.run_log_batch(run=run, params=[(key, fields.string("value"))], single=True)
    return {}


class _PlainMetric(msgspec.Struct, forbid_unknown_fields=True):
    """A log-batch metric of the usual shape: what the mlflow client sends."""

    key: str
    value: float
    timestamp: int
    step: int = 0


class _PlainBatch(msgspec.Struct):
    run_id: str = ""
    run_uuid: str = ""
    metrics: list[_PlainMetric] = []
    params: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []


_PLAIN_BATCH = msgspec.json.Decoder(_PlainBatch)


def _plain_log_batch(
    request: HttpRequest,
) -> tuple[str, MetricPoints, list[dict[str, Any]], list[dict[str, Any]]] | None:
    """(run id, metrics, params, tags) of a log-batch of the usual shape, decoded by msgspec
    straight into columns; None for any other body. Decoded once per request."""
    if not hasattr(request, "plain_log_batch"):
        request.plain_log_batch = _decode_plain_log_batch(request)  # type: ignore[attr-defined]
    return request.plain_log_batch  # type: ignore[attr-defined]


def _plain_log_batch_run_id(request: HttpRequest) -> str | None:
    plain = _plain_log_batch(request)
    return None if plain is None else plain[0]


def _decode_plain_log_batch(
    request: HttpRequest,
) -> tuple[str, MetricPoints, list[dict[str, Any]], list[dict[str, Any]]] | None:
    batch = decode_plain(request, _PLAIN_BATCH)
    if batch is None:
        return None
    run_id = batch.run_id or batch.run_uuid
    items = batch.metrics
    keys = [item.key for item in items]
    if not run_id or "" in keys:
        return None  # RequestFields' messages
    values = [item.value for item in items]
    timestamps = [item.timestamp for item in items]
    steps = [item.step for item in items]
    return run_id, MetricPoints(keys, values, timestamps, steps), batch.params, batch.tags


def _log_batch_request(
    request: HttpRequest,
) -> tuple[str, Sequence[MetricPoint] | MetricPoints, list[dict[str, Any]], list[dict[str, Any]]]:
    if plain := _plain_log_batch(request):
        return plain
    fields = RequestFields.from_request(request)
    return (
        fields.run_id(),
        _metric_points(fields.objects("metrics")),
        fields.objects("params"),
        fields.objects("tags"),
    )


def _log_batch_at_once(
    request: HttpRequest, credential: Credential, name: str, group_name: str | None
) -> bool:
    """log_batch in one round trip (see endpoint's at_once), for a body of the usual shape
    with metrics only; False for any other request."""
    plain = _plain_log_batch(request)
    if plain is None or plain[2] or plain[3]:  # params, tags
        return False
    run_id, metrics, _params, _tags = plain
    return services.run_log_batch_at_once(
        credential=credential, name=name, group_name=group_name, run_uuid=run_id, metrics=metrics
    )


@endpoint("POST", write=True, holds_run=_plain_log_batch_run_id, at_once=_log_batch_at_once)
def log_batch(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    run_id, metrics, params, tags = _log_batch_request(request)
    run = held_run(request, workspace, run_id)
    services.run_log_batch(
        run=run,
        metrics=metrics,
        params=key_value_pairs(params, "params"),
        tags=key_value_pairs(tags, "tags"),
    )
    return {}


@endpoint("POST", write=True)
def set_tag(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    run = _run_of(fields, workspace)
    services.run_set_tag(
        run=run, key=fields.string("key", required=True), value=fields.string("value")
    )
    return {}


@endpoint("POST", write=True)
def delete_tag(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    run = _run_of(fields, workspace)
    services.run_delete_tag(run=run, key=fields.string("key", required=True))
    return {}


def _dataset_spec(item: dict[str, Any], index: int) -> DatasetSpec:
    path = f"datasets[{index}]"
    dataset = item.get("dataset")
    if not isinstance(dataset, dict):
        raise missing(f"{path}.dataset")
    values = {}
    for name in ("name", "digest", "source_type", "source"):
        value = dataset.get(name)
        if value is None:
            raise missing(f"{path}.dataset.{name}")
        if not isinstance(value, str):
            raise wrong_type(f"{path}.dataset.{name}", value)
        values[name] = value
    for name in ("schema", "profile"):
        value = dataset.get(name) or ""
        if not isinstance(value, str):
            raise wrong_type(f"{path}.dataset.{name}", value)
        values[name] = value
    tags = item.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, dict) for tag in tags):
        raise wrong_type(f"{path}.tags", tags, "a list of {key, value} objects")
    return DatasetSpec(tags=key_value_pairs(tags, f"{path}.tags"), **values)


@endpoint("POST", write=True)
def log_inputs(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    run = _run_of(fields, workspace)
    datasets = [_dataset_spec(item, i) for i, item in enumerate(fields.objects("datasets"))]
    model_ids = []
    for index, item in enumerate(fields.objects("models")):
        model_id = item.get("model_id")
        if not isinstance(model_id, str) or not model_id:
            raise missing(f"models[{index}].model_id")
        model_ids.append(model_id)
    services.run_log_inputs(run=run, datasets=datasets, model_ids=model_ids)
    return {}


@endpoint("POST", write=True)
def log_outputs(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    run = _run_of(fields, workspace)
    outputs = []
    for index, item in enumerate(fields.objects("models")):
        model_id = item.get("model_id")
        if not isinstance(model_id, str) or not model_id:
            raise missing(f"models[{index}].model_id")
        step = item.get("step")
        outputs.append((model_id, 0 if step is None else to_int64(step, f"models[{index}].step")))
    services.run_log_outputs(run=run, outputs=outputs)
    return {}


@endpoint("GET")
def get_metric_history(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    run = _run_of(fields, workspace)
    key = fields.string("metric_key", required=True)
    max_results = fields.int64("max_results")
    if max_results is not None and not 0 < max_results <= MAX_HISTORY_PAGE:
        raise MlflowError.invalid(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be a "
            f"positive integer no larger than {MAX_HISTORY_PAGE}."
        )
    rows, token = metric_history(
        run=run, key=key, max_results=max_results, page_token=fields.string("page_token") or None
    )
    # Pages of 25,000 points: plain dicts for orjson cost a third of formatting each point.
    # value - value is 0 for every finite float; NaN and infinities travel as strings.
    payload: dict[str, Any] = {
        "metrics": [
            {
                "key": key,
                "value": value if not is_nan and value - value == 0 else wire_float(value, is_nan),
                "timestamp": timestamp,
                "step": step,
            }
            for value, timestamp, step, is_nan in rows
        ]
    }
    if token:
        payload["next_page_token"] = token
    return payload
