"""MLflow experiment endpoints (/api/2.0/mlflow/experiments/*)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from experiments.choices import ViewType
from experiments.mlflow.endpoint import endpoint
from experiments.mlflow.errors import MlflowError
from experiments.mlflow.parsing import RequestFields, key_value_pairs
from experiments.mlflow.wire import experiment_message
from experiments.models import Experiment, ExperimentTag, Workspace
from experiments.selectors.experiments import experiment_by_name, experiment_get
from experiments.services import experiments as services

VIEW_TYPES = [ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL]


def _tags_of(experiment: Experiment) -> list[tuple[str, str]]:
    return list(
        ExperimentTag.objects.filter(experiment=experiment)
        .order_by("key")
        .values_list("key", "value")
    )


def _experiment_of(fields: RequestFields, workspace: Workspace, **kwargs: Any) -> Experiment:
    return experiment_get(
        workspace=workspace,
        experiment_id=fields.string("experiment_id", required=True),
        **kwargs,
    )


@endpoint("POST", write=True)
def create(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    name = fields.string("name", required=True)
    if fields.string("artifact_location"):
        raise MlflowError.invalid(
            "This server stores artifacts itself; 'artifact_location' cannot be set. "
            "Create the experiment without it."
        )
    tags = key_value_pairs(fields.objects("tags"), "tags")
    experiment = services.experiment_create(workspace=workspace, name=name, tags=tags)
    return {"experiment_id": experiment.wire_id}


@endpoint("GET")
def get(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    experiment = _experiment_of(RequestFields.from_request(request), workspace)
    return {"experiment": experiment_message(experiment, _tags_of(experiment))}


@endpoint("GET")
def get_by_name(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    name = RequestFields.from_request(request).string("experiment_name", required=True)
    experiment = experiment_by_name(workspace=workspace, name=name)
    if experiment is None:
        raise MlflowError(
            "RESOURCE_DOES_NOT_EXIST", f"Could not find experiment with name '{name}'"
        )
    return {"experiment": experiment_message(experiment, _tags_of(experiment))}


@endpoint("POST", write=True)
def delete(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    experiment = _experiment_of(RequestFields.from_request(request), workspace)
    services.experiment_delete(experiment=experiment)
    return {}


@endpoint("POST", write=True)
def restore(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    experiment = _experiment_of(RequestFields.from_request(request), workspace)
    services.experiment_restore(experiment=experiment)
    return {}


@endpoint("POST", write=True)
def update(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    experiment = _experiment_of(fields, workspace)
    services.experiment_rename(
        experiment=experiment, new_name=fields.string("new_name", required=True)
    )
    return {}


@endpoint("POST", write=True)
def set_tag(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    experiment = _experiment_of(fields, workspace)
    services.experiment_set_tag(
        experiment=experiment,
        key=fields.string("key", required=True),
        value=fields.string("value"),
    )
    return {}


@endpoint("POST", write=True)
def delete_tag(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    experiment = _experiment_of(fields, workspace)
    services.experiment_delete_tag(experiment=experiment, key=fields.string("key", required=True))
    return {}
