"""delete_resource_group, delete_workspace and purge_deleted: the same service and task."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from django.core.management import CommandError, call_command

from experiments.choices import ContainerState, DeletionKind, JobState
from experiments.models import DeletionJob, ResourceGroup, Run
from experiments.services.runs import run_delete
from tests.factories import make_group, make_rich_run, make_workspace, seed_runs
from tests.snapshots import ids_of, leftovers
from tests.workers import CeleryWorker

pytestmark = pytest.mark.django_db(transaction=True)


def test_without_yes_nothing_happens() -> None:
    make_workspace("cli-ws", make_group("cli"))
    with pytest.raises(CommandError, match="Pass --yes"):
        call_command("delete_resource_group", "cli")
    with pytest.raises(CommandError, match="Pass --yes"):
        call_command("delete_workspace", "cli/cli-ws")
    with pytest.raises(CommandError, match="Pass --yes"):
        call_command("purge_deleted", "cli/cli-ws")
    assert ResourceGroup.objects.get(name="cli").state == ContainerState.ACTIVE
    assert not DeletionJob.objects.exists()


def test_unknown_names_are_reported() -> None:
    with pytest.raises(CommandError, match="does not exist"):
        call_command("delete_resource_group", "ghost", "--yes")
    with pytest.raises(CommandError, match="<resource group>/<workspace>"):
        call_command("delete_workspace", "ghost", "--yes")


def test_delete_resource_group_yes_wait(celery_workers: Callable[..., CeleryWorker]) -> None:
    workspace = make_workspace("cli-ws", make_group("cli"))
    make_rich_run(workspace)
    seed_runs(workspace, runs=50, points_per_run=10, files_per_run=1)
    ids = ids_of([workspace.pk])
    celery_workers()
    out = io.StringIO()

    call_command("delete_resource_group", "cli", "--yes", "--wait", stdout=out)

    job = DeletionJob.objects.get()
    assert job.state == JobState.DELETED
    assert job.requested_by.startswith("cli:")
    assert f"Deletion job {job.pk}: Resource group cli" in out.getvalue()
    assert out.getvalue().rstrip().endswith("Deleted: 100.0%")
    assert leftovers(ids) == {}


def test_purge_deleted_yes_wait(celery_workers: Callable[..., CeleryWorker]) -> None:
    workspace = make_workspace("gc-ws", make_group("gc"))
    kept = make_rich_run(workspace)
    run_delete(run=make_rich_run(workspace))
    celery_workers()

    call_command("purge_deleted", "gc/gc-ws", "--yes", "--wait", stdout=io.StringIO())

    assert list(Run.objects.filter(workspace=workspace)) == [kept]
    assert DeletionJob.objects.get().kind == DeletionKind.PURGE


def test_delete_workspace_without_wait_returns_at_once() -> None:
    make_workspace("quick-ws", make_group("quick"))
    out = io.StringIO()
    call_command("delete_workspace", "quick/quick-ws", "--yes", stdout=out)
    job = DeletionJob.objects.get()
    assert job.kind == DeletionKind.WORKSPACE
    assert job.state == JobState.PENDING
    assert out.getvalue().startswith(f"Deletion job {job.pk}: Workspace quick/quick-ws")
