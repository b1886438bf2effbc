"""MLflow search endpoints: runs/search and experiments/search."""

from __future__ import annotations

from typing import Any

from django.db.models import prefetch_related_objects
from django.http import HttpRequest

from experiments.choices import ViewType
from experiments.mlflow.endpoint import endpoint
from experiments.mlflow.parsing import RequestFields
from experiments.mlflow.views_experiments import VIEW_TYPES
from experiments.mlflow.wire import experiment_message, run_message
from experiments.models import Workspace
from experiments.selectors.experiments import experiment_pks
from experiments.selectors.runs import runs_details
from experiments.selectors.search import experiments_search, runs_search

DEFAULT_MAX_RESULTS = 1000


@endpoint("POST")
def search_runs(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    max_results = fields.int64("max_results")
    runs, token = runs_search(
        workspace=workspace,
        experiment_pks=experiment_pks(
            workspace=workspace, experiment_ids=fields.strings("experiment_ids")
        ),
        filter_string=fields.string("filter"),
        view_type=ViewType(fields.enum("run_view_type", VIEW_TYPES, ViewType.ACTIVE_ONLY)),
        order_by=fields.strings("order_by"),
        max_results=DEFAULT_MAX_RESULTS if max_results is None else max_results,
        page_token=fields.string("page_token") or None,
    )
    payload: dict[str, Any] = {"runs": [run_message(d) for d in runs_details(runs)]}
    if token:
        payload["next_page_token"] = token
    return payload


@endpoint("POST", "GET")
def search_experiments(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    fields = RequestFields.from_request(request)
    max_results = fields.int64("max_results")
    experiments, token = experiments_search(
        workspace=workspace,
        filter_string=fields.string("filter"),
        view_type=ViewType(fields.enum("view_type", VIEW_TYPES, ViewType.ACTIVE_ONLY)),
        order_by=fields.strings("order_by"),
        max_results=DEFAULT_MAX_RESULTS if max_results is None else max_results,
        page_token=fields.string("page_token") or None,
    )
    prefetch_related_objects(experiments, "tags")
    payload: dict[str, Any] = {
        "experiments": [
            experiment_message(
                experiment,
                sorted((tag.key, tag.value) for tag in experiment.tags.all()),
            )
            for experiment in experiments
        ]
    }
    if token:
        payload["next_page_token"] = token
    return payload
