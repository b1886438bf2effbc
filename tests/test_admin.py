"""Django admin: groups and workspaces with counts, created through the services, never
deleted by the admin's cascade; deletion jobs and the audit log read-only, with retry."""

from __future__ import annotations

import pytest
from django.test import Client

from experiments.choices import JobState
from experiments.models import DeletionJob, ResourceGroup, Workspace
from experiments.services.audit import Actor
from experiments.services.deletion import resource_group_delete
from tests.factories import make_group, make_workspace, seed_runs

pytestmark = pytest.mark.django_db(transaction=True)


def test_group_list_shows_counts_and_links_to_the_deletion_page(admin_client: Client) -> None:
    workspace = make_workspace("admin-ws", make_group("admin-group"))
    seed_runs(workspace, runs=3)
    page = admin_client.get("/admin/experiments/resourcegroup/").content.decode()
    assert "admin-group" in page
    assert "/manage/groups/admin-group/delete/" in page
    assert admin_client.get("/admin/experiments/workspace/").status_code == 200


def test_adding_goes_through_the_services(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/experiments/resourcegroup/add/", {"name": "from-admin", "description": ""}
    )
    assert response.status_code == 302
    group = ResourceGroup.objects.get(name="from-admin")
    response = admin_client.post(
        "/admin/experiments/workspace/add/",
        {"name": "admin-made", "resource_group": group.pk, "description": ""},
    )
    assert response.status_code == 302
    assert Workspace.objects.get(name="admin-made").experiments.filter(is_default=True).exists()
    refused = admin_client.post(
        "/admin/experiments/workspace/add/",
        {"name": "Bad Name", "resource_group": group.pk, "description": ""},
    )
    assert refused.status_code == 200
    assert "must contain only lowercase letters" in refused.content.decode()


def test_admin_cannot_cascade_delete(admin_client: Client) -> None:
    group = make_group("no-cascade")
    assert (
        admin_client.get(f"/admin/experiments/resourcegroup/{group.pk}/delete/").status_code == 403
    )


def test_retry_action_on_failed_jobs(admin_client: Client) -> None:
    make_workspace("retry-ws", make_group("retry-group"))
    job = resource_group_delete(
        group_name="retry-group", confirm_name="retry-group", actor=Actor("a")
    )
    DeletionJob.objects.filter(pk=job.pk).update(state=JobState.FAILED, error="boom")
    assert admin_client.get("/admin/experiments/deletionjob/").status_code == 200
    admin_client.post(
        "/admin/experiments/deletionjob/", {"action": "retry", "_selected_action": [job.pk]}
    )
    job.refresh_from_db()
    assert job.state == JobState.PENDING
    assert admin_client.get("/admin/experiments/auditlog/").status_code == 200
