"""MLflow logged-model endpoints (/api/2.0/mlflow/logged-models/*)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from experiments.choices import LoggedModelStatus
from experiments.mlflow.endpoint import endpoint
from experiments.mlflow.errors import MlflowError
from experiments.mlflow.parsing import RequestFields, key_value_pairs, wrong_type
from experiments.mlflow.wire import logged_model_message, wire_float
from experiments.models import Workspace
from experiments.selectors.experiments import experiment_get, experiment_pks
from experiments.selectors.logged_models import (
    LoggedModelDetails,
    logged_model_get,
    logged_models_details,
)
from experiments.selectors.search import LoggedModelOrder, logged_models_search
from experiments.services import logged_models as services

STATUSES = [LoggedModelStatus.PENDING, LoggedModelStatus.READY, LoggedModelStatus.UPLOAD_FAILED]
MAX_SEARCH_RESULTS = 50000


def model_message(details: LoggedModelDetails) -> dict[str, Any]:
    return logged_model_message(
        details.model,
        params=details.params,
        tags=details.tags,
        metrics=[
            {
                "key": metric.key,
                "value": wire_float(metric.value, metric.is_nan),
                "timestamp": metric.timestamp,
                "step": metric.step,
                "model_id": details.model.model_id,
                **({"run_id": metric.run.uuid} if metric.run_id else {}),
                **({"dataset_name": metric.dataset_name} if metric.dataset_name else {}),
                **({"dataset_digest": metric.dataset_digest} if metric.dataset_digest else {}),
            }
            for metric in details.metrics
        ],
    )


def _response(model) -> dict[str, Any]:  # noqa: ANN001
    return {"model": model_message(logged_models_details([model])[0])}


@endpoint("POST", write=True)
def create(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    experiment = experiment_get(
        workspace=workspace, experiment_id=fields.string("experiment_id", required=True)
    )
    model = services.logged_model_create(
        experiment=experiment,
        name=fields.string("name") if fields.has("name") else None,
        source_run_id=fields.string("source_run_id"),
        model_type=fields.string("model_type"),
        params=key_value_pairs(fields.objects("params"), "params"),
        tags=key_value_pairs(fields.objects("tags"), "tags"),
    )
    return _response(model)


@endpoint("GET", "PATCH", "DELETE", write=True)
def detail(request: HttpRequest, workspace: Workspace, model_id: str) -> dict[str, Any]:
    if request.method == "GET":
        allow_deleted = request.GET.get("allow_deleted", "").lower() == "true"
        return _response(
            logged_model_get(workspace=workspace, model_id=model_id, allow_deleted=allow_deleted)
        )
    model = logged_model_get(workspace=workspace, model_id=model_id)
    if request.method == "DELETE":
        services.logged_model_delete(model=model)
        return {}
    fields = RequestFields.from_request(request)
    if not fields.has("status") or fields.raw("status") == "":
        raise MlflowError.invalid("Missing value for required parameter 'status'.")
    status = fields.enum("status", ["LOGGED_MODEL_PENDING", *STATUSES[1:]], "")
    if status == "LOGGED_MODEL_PENDING" and fields.raw("status") == 0:
        raise MlflowError.invalid("A logged model cannot be finalized with an unspecified status.")
    services.logged_model_finalize(model=model, status=LoggedModelStatus(status))
    return _response(model)


@endpoint("POST", write=True)
def log_params(request: HttpRequest, workspace: Workspace, model_id: str) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    model = logged_model_get(workspace=workspace, model_id=model_id)
    services.logged_model_log_params(
        model=model, params=key_value_pairs(fields.objects("params"), "params")
    )
    return {}


@endpoint("PATCH", write=True)
def set_tags(request: HttpRequest, workspace: Workspace, model_id: str) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    model = logged_model_get(workspace=workspace, model_id=model_id)
    services.logged_model_set_tags(
        model=model, tags=key_value_pairs(fields.objects("tags"), "tags")
    )
    return {}


@endpoint("DELETE", write=True)
def delete_tag(
    request: HttpRequest, workspace: Workspace, model_id: str, tag_key: str
) -> dict[str, Any]:
    model = logged_model_get(workspace=workspace, model_id=model_id)
    services.logged_model_delete_tag(model=model, key=tag_key)
    return {}


def _item_string(item: dict[str, Any], name: str, path: str) -> str | None:
    """A string field of an object in a list (order_by, datasets); None when absent or empty."""
    value = item.get(name)
    if value is not None and not isinstance(value, str):
        raise wrong_type(f"{path}.{name}", value, "a string")
    return value or None


@endpoint("POST")
def search(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    max_results = fields.int64("max_results")
    if max_results is not None and not 0 < max_results <= MAX_SEARCH_RESULTS:
        raise MlflowError.invalid(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be "
            f"between 1 and {MAX_SEARCH_RESULTS}."
        )
    orders = []
    for index, item in enumerate(fields.objects("order_by")):
        path = f"order_by[{index}]"
        field_name = _item_string(item, "field_name", path)
        if not field_name:
            raise MlflowError.invalid(f"Missing value for required parameter '{path}.field_name'.")
        ascending = item.get("ascending", True)
        if not isinstance(ascending, bool):
            raise wrong_type(f"{path}.ascending", ascending, "true or false")
        orders.append(
            LoggedModelOrder(
                field_name=field_name,
                ascending=ascending,
                dataset_name=_item_string(item, "dataset_name", path),
                dataset_digest=_item_string(item, "dataset_digest", path),
            )
        )
    datasets = []
    for index, item in enumerate(fields.objects("datasets")):
        name = _item_string(item, "dataset_name", f"datasets[{index}]")
        if not name:
            # MLflow's wording (SqlAlchemyStore.search_logged_models).
            raise MlflowError.invalid("`dataset_name` in the `datasets` clause must be specified.")
        datasets.append((name, _item_string(item, "dataset_digest", f"datasets[{index}]")))
    models, token = logged_models_search(
        workspace=workspace,
        experiment_pks=experiment_pks(
            workspace=workspace, experiment_ids=fields.strings("experiment_ids")
        ),
        filter_string=fields.string("filter"),
        datasets=datasets,
        order_by=orders,
        max_results=max_results or 100,
        page_token=fields.string("page_token") or None,
    )
    payload: dict[str, Any] = {
        "models": [model_message(details) for details in logged_models_details(models)]
    }
    if token:
        payload["next_page_token"] = token
    return payload
