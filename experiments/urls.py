"""The portal's pages."""

from __future__ import annotations

from django.urls import path

from experiments.views import groups, jobs, pages

app_name = "experiments"

MANAGE_GROUP = "manage/groups/<str:group>/"
MANAGE_WORKSPACE = f"{MANAGE_GROUP}workspaces/<str:workspace>/"

urlpatterns = [
    path("", pages.home, name="home"),
    # Administration (issue 5 guards everything under manage/).
    path("manage/groups/", groups.group_list, name="group-list"),
    path(MANAGE_GROUP, groups.group_detail, name="group-detail"),
    path(f"{MANAGE_GROUP}delete/", groups.group_delete, name="group-delete"),
    path(MANAGE_WORKSPACE, groups.workspace_detail, name="workspace-detail"),
    path(f"{MANAGE_WORKSPACE}delete/", groups.workspace_delete_page, name="workspace-delete"),
    path(f"{MANAGE_WORKSPACE}purge/", groups.workspace_purge, name="workspace-purge"),
    path("manage/jobs/", jobs.job_list, name="job-list"),
    path("manage/jobs/<int:pk>/", jobs.job_detail, name="job-detail"),
    path("manage/jobs/<int:pk>/retry/", jobs.job_retry, name="job-retry"),
    path("manage/audit/", jobs.audit_log, name="audit-log"),
]
