"""Navigation pages: home (search and resource groups), a group, a workspace, and the links
that name only a run or an experiment."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from experiments.models import Workspace
from experiments.selectors.portal import (
    experiment_locate,
    experiment_search,
    experiments_page,
    group_get,
    groups_with_counts,
    run_locate,
    workspace_get,
    workspaces_with_counts,
)
from experiments.views.common import int_parameter, page

EXPERIMENTS_PER_PAGE = 50
SEARCH_RESULTS = 20


def _scope(request: HttpRequest) -> Workspace | None:
    """The workspace a scoped search is limited to (`?in=<group>/<workspace>`)."""
    raw = request.GET.get("in", "").strip()
    if not raw:
        return None
    group, _, name = raw.rpartition("/")
    return workspace_get(user=request.user, group=group, name=name)


@page
def home(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    hits = experiment_search(user=request.user, query=query, limit=SEARCH_RESULTS)
    return render(
        request,
        "experiments/home.html",
        {"groups": groups_with_counts(user=request.user), "query": query, "hits": hits},
    )


@page
def search_results(request: HttpRequest) -> HttpResponse:
    """The results list alone, which the search box fetches while the user types."""
    query = request.GET.get("q", "")
    scope = _scope(request)
    hits = experiment_search(user=request.user, query=query, workspace=scope, limit=SEARCH_RESULTS)
    return render(
        request,
        "experiments/_search_results.html",
        {"query": query, "hits": hits, "scoped": scope is not None},
    )


@page
def group_detail(request: HttpRequest, group: str) -> HttpResponse:
    resource_group = group_get(user=request.user, name=group)
    return render(
        request,
        "experiments/group.html",
        {
            "group": resource_group,
            "workspaces": workspaces_with_counts(user=request.user, group=resource_group),
        },
    )


@page
def workspace_detail(request: HttpRequest, group: str, workspace: str) -> HttpResponse:
    ws = workspace_get(user=request.user, group=group, name=workspace)
    query = request.GET.get("q", "")
    page_number = int_parameter(request, "page", 1, low=1, high=10**6, label="page number")
    if query.strip():
        hits = experiment_search(user=request.user, query=query, workspace=ws, limit=50)
        total = len(hits)
    else:
        hits, total = experiments_page(
            workspace=ws,
            offset=(page_number - 1) * EXPERIMENTS_PER_PAGE,
            limit=EXPERIMENTS_PER_PAGE,
        )
    return render(
        request,
        "experiments/workspace.html",
        {
            "workspace": ws,
            "group": ws.resource_group,
            "query": query,
            "hits": hits,
            "total": total,
            "page_number": page_number,
            "has_next": not query.strip() and page_number * EXPERIMENTS_PER_PAGE < total,
            "scope": f"{ws.resource_group.name}/{ws.name}",
        },
    )


@page
def run_by_id(request: HttpRequest, run_id: str) -> HttpResponse:
    """`/runs/<id>/`: where the run link the mlflow client prints ends up."""
    run = run_locate(user=request.user, run_id=run_id)
    return redirect(
        reverse(
            "experiments:run-detail",
            args=[run.workspace.resource_group.name, run.workspace.name, run.uuid],
        )
    )


@page
def experiment_by_id(request: HttpRequest, experiment_id: str) -> HttpResponse:
    experiment = experiment_locate(user=request.user, experiment_pk=experiment_id)
    workspace = experiment.workspace
    return redirect(
        reverse(
            "experiments:experiment-detail",
            args=[workspace.resource_group.name, workspace.name, experiment.wire_id],
        )
    )
