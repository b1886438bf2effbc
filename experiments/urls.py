"""The portal's pages. Every page has a stable URL; its filters and choices are in the query
string, so a copied address shows the same thing."""

from __future__ import annotations

from django.urls import include, path

from experiments.views import account, compare, experiment, groups, jobs, pages, runs

app_name = "experiments"

RUN = "runs/<str:run_id>/"
MANAGE_GROUP = "manage/groups/<str:group>/"
MANAGE_WORKSPACE = f"{MANAGE_GROUP}workspaces/<str:workspace>/"

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
    path("log/", account.log_to_workspace, name="log-to-workspace"),
]

urlpatterns = [
    path("", pages.home, name="home"),
    path("search/", pages.search_results, name="search-results"),
    path("runs/<str:run_id>/", pages.run_by_id, name="run-by-id"),
    path("experiments/<str:experiment_id>/", pages.experiment_by_id, name="experiment-by-id"),
    path("groups/<str:group>/", pages.group_detail, name="group-detail"),
    path("groups/<str:group>/workspaces/<str:workspace>/", include(workspace_patterns)),
    # Administration: resource groups, workspaces, deletion jobs and the audit log.
    path("manage/groups/", groups.group_list, name="group-list"),
    path(MANAGE_GROUP, groups.group_detail, name="manage-group"),
    path(f"{MANAGE_GROUP}delete/", groups.group_delete, name="group-delete"),
    path(MANAGE_WORKSPACE, groups.workspace_detail, name="manage-workspace"),
    path(f"{MANAGE_WORKSPACE}delete/", groups.workspace_delete_page, name="workspace-delete"),
    path(f"{MANAGE_WORKSPACE}purge/", groups.workspace_purge, name="workspace-purge"),
    path("manage/jobs/", jobs.job_list, name="job-list"),
    path("manage/jobs/<int:pk>/", jobs.job_detail, name="job-detail"),
    path("manage/jobs/<int:pk>/retry/", jobs.job_retry, name="job-retry"),
    path("manage/audit/", jobs.audit_log, name="audit-log"),
    path(f"{MANAGE_GROUP}access/", account.group_access, name="group-access"),
    path(f"{MANAGE_WORKSPACE}access/", account.workspace_access, name="workspace-access"),
    path("account/api-keys/", account.api_keys, name="api-keys"),
    path("account/api-keys/<int:pk>/revoke/", account.api_key_revoke_view, name="api-key-revoke"),
]
