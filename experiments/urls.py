"""The portal's pages. Every page has a stable URL; its filters and choices are in the query
string, so a copied address shows the same thing."""

from __future__ import annotations

from django.urls import include, path

from experiments.views import compare, experiment, pages, runs

app_name = "experiments"

RUN = "runs/<str:run_id>/"

workspace_patterns = [
    path("", pages.workspace_detail, name="workspace-detail"),
    path(
        "experiments/<str:experiment_id>/",
        experiment.experiment_detail,
        name="experiment-detail",
    ),
    path(RUN, runs.run_detail, name="run-detail"),
    path(f"{RUN}artifacts/", runs.run_artifacts, name="run-artifacts"),
    path(f"{RUN}artifacts/raw", runs.run_artifact_raw, name="run-artifact-raw"),
    path(f"{RUN}artifacts/download", runs.run_artifact_download, name="run-artifact-download"),
    path("compare/", compare.compare, name="compare"),
    path("compare/data", compare.compare_data, name="compare-data"),
]

urlpatterns = [
    path("", pages.home, name="home"),
    path("search/", pages.search_results, name="search-results"),
    path("runs/<str:run_id>/", pages.run_by_id, name="run-by-id"),
    path("experiments/<str:experiment_id>/", pages.experiment_by_id, name="experiment-by-id"),
    path("groups/<str:group>/", pages.group_detail, name="group-detail"),
    path("groups/<str:group>/workspaces/<str:workspace>/", include(workspace_patterns)),
]
