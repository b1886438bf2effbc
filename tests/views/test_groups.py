"""The management pages: create, describe, confirm a deletion by typing the name."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from experiments.choices import ContainerState, DeletionKind, JobState, Role
from experiments.models import DeletionJob, ResourceGroup, Workspace
from experiments.services.runs import run_delete
from tests.factories import grant, make_group, make_rich_run, make_workspace, seed_runs

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_a_group_and_a_workspace_from_the_pages(web_client: Client) -> None:
    response = web_client.post(
        reverse("experiments:group-list"), {"name": "team-a", "description": "Vision"}
    )
    assert response.status_code == 302
    assert ResourceGroup.objects.get(name="team-a").description == "Vision"

    response = web_client.post(
        reverse("experiments:manage-group", args=["team-a"]), {"name": "vision"}
    )
    assert response.status_code == 302
    workspace = Workspace.objects.get(name="vision")
    assert workspace.resource_group.name == "team-a"
    assert workspace.experiments.filter(is_default=True).exists()

    page = web_client.get(reverse("experiments:group-list")).content.decode()
    assert "team-a" in page


def test_invalid_and_duplicate_names_are_shown_on_the_form(web_client: Client) -> None:
    make_group("taken")
    page = web_client.post(reverse("experiments:group-list"), {"name": "taken"}).content.decode()
    assert "already exists" in page
    page = web_client.post(
        reverse("experiments:group-list"), {"name": "bad name!"}
    ).content.decode()
    assert "must be 1-90 characters" in page


def test_group_page_describes_its_contents(web_client: Client) -> None:
    group = make_group("described")
    workspace = make_workspace("described-ws", group)
    make_rich_run(workspace)
    seed_runs(workspace, runs=3, points_per_run=10, files_per_run=2)

    response = web_client.get(reverse("experiments:manage-group", args=["described"]))

    contents = response.context["contents"]
    assert (contents.workspaces, contents.runs, contents.metric_points) == (1, 4, 36)
    assert contents.files == 3 + 6
    assert contents.bytes > 0
    assert "described-ws" in response.content.decode()


def test_confirmation_page_shows_the_bill_and_needs_the_exact_name(web_client: Client) -> None:
    group = make_group("confirm-me")
    workspace = make_workspace("confirm-ws", group)
    seed_runs(workspace, runs=4, points_per_run=5, files_per_run=1)
    url = reverse("experiments:group-delete", args=["confirm-me"])

    page = web_client.get(url)
    assert page.context["bill"].runs == 4
    assert page.context["bill"].metric_points == 20
    assert 'data-count="metric_points">20<' in page.content.decode()

    wrong = web_client.post(url, {"confirm_name": "confirm-m"})
    assert wrong.status_code == 200
    assert "does not match" in wrong.content.decode()
    assert ResourceGroup.objects.get(name="confirm-me").state == ContainerState.ACTIVE

    right = web_client.post(url, {"confirm_name": "confirm-me"})
    job = DeletionJob.objects.get()
    assert right.status_code == 302
    assert right["Location"] == reverse("experiments:job-detail", args=[job.pk])
    assert job.kind == DeletionKind.RESOURCE_GROUP
    assert job.requested_by == "web-admin"
    assert ResourceGroup.objects.get(name="confirm-me").state == ContainerState.DELETING
    # It has left the browsing pages; the management pages still show it, with its job.
    assert "confirm-me" not in web_client.get(reverse("experiments:home")).content.decode()
    assert f"job {job.pk}" in web_client.get(reverse("experiments:group-list")).content.decode()
    # Confirming again leads to the same job.
    assert web_client.get(url)["Location"] == reverse("experiments:job-detail", args=[job.pk])


def test_signed_in_user_is_the_one_recorded(web_client: Client, django_user_model: type) -> None:
    user = django_user_model.objects.create_user("alice", password="secret-password-1")
    web_client.force_login(user)
    group = make_group("alice-group")
    grant(user, Role.OWNER, group=group)
    make_workspace("alice-ws", group)
    web_client.post(
        reverse("experiments:group-delete", args=["alice-group"]), {"confirm_name": "alice-group"}
    )
    job = DeletionJob.objects.get()
    assert (job.requested_by, job.requested_by_user) == ("alice", user)


def test_workspace_deletion_and_purge_pages(web_client: Client) -> None:
    workspace = make_workspace("pages-ws", make_group("pages"))
    run = make_rich_run(workspace)
    run_delete(run=run)
    base = ["pages", "pages-ws"]

    detail = web_client.get(reverse("experiments:manage-workspace", args=base))
    assert detail.context["purgeable"].runs == 1

    purge = web_client.get(reverse("experiments:workspace-purge", args=base))
    assert purge.context["bill"].runs == 1
    assert purge.context["bill"].files == 2
    response = web_client.post(
        reverse("experiments:workspace-purge", args=base), {"older_than_days": 0}
    )
    assert response.status_code == 302
    assert DeletionJob.objects.get().kind == DeletionKind.PURGE

    response = web_client.post(
        reverse("experiments:workspace-delete", args=base), {"confirm_name": "pages-ws"}
    )
    assert response.status_code == 302
    assert Workspace.objects.get(name="pages-ws").state == ContainerState.DELETING


def test_job_page_and_retry(web_client: Client) -> None:
    make_workspace("job-ws", make_group("job-group"))
    web_client.post(
        reverse("experiments:group-delete", args=["job-group"]), {"confirm_name": "job-group"}
    )
    job = DeletionJob.objects.get()
    page = web_client.get(reverse("experiments:job-detail", args=[job.pk])).content.decode()
    assert 'data-state="pending"' in page
    assert reverse("portal-api:deletion-job-detail", args=[job.pk]) in page

    # Retry is for failed jobs only.
    response = web_client.post(reverse("experiments:job-retry", args=[job.pk]), follow=True)
    assert "not Failed" in response.content.decode()
    DeletionJob.objects.filter(pk=job.pk).update(state=JobState.FAILED, error="disk on fire")
    page = web_client.get(reverse("experiments:job-detail", args=[job.pk])).content.decode()
    assert "disk on fire" in page
    web_client.post(reverse("experiments:job-retry", args=[job.pk]))
    job.refresh_from_db()
    assert (job.state, job.error) == (JobState.PENDING, "")

    audit = web_client.get(reverse("experiments:audit-log")).content.decode()
    assert "Deletion requested" in audit
    assert "Deletion retried" in audit


def test_unknown_names_answer_404(web_client: Client) -> None:
    assert web_client.get(reverse("experiments:manage-group", args=["ghost"])).status_code == 404
    assert web_client.get(reverse("experiments:group-delete", args=["ghost"])).status_code == 404
    assert (
        web_client.get(reverse("experiments:manage-workspace", args=["g", "w"])).status_code == 404
    )
    assert web_client.get(reverse("experiments:job-detail", args=[999])).status_code == 404
