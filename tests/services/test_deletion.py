"""The deletion services, driven in-process step by step (the worker tests run them through
Celery). Every test compares what is stored before and after."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import override_settings

from experiments.choices import AuditAction, ContainerState, DeletionKind, JobState
from experiments.clock import now_ms
from experiments.errors import Conflict, InvalidInput, NotFound
from experiments.models import AuditLog, DeletionJob, Experiment, ResourceGroup, Run, Workspace
from experiments.selectors.groups import group_bill
from experiments.services.audit import Actor
from experiments.services.deletion import (
    StepResult,
    deleted_objects_purge,
    deletion_job_run,
    resource_group_delete,
    workspace_delete,
)
from experiments.services.experiments import experiment_delete, experiment_restore
from experiments.services.runs import run_delete, run_restore
from experiments.services.workspaces import workspace_create, workspace_hold_for_write
from experiments.storage import artifact_storage, iter_files
from tests.factories import (
    make_experiment,
    make_group,
    make_rich_run,
    make_run,
    make_workspace,
    seed_runs,
)
from tests.snapshots import everything_of, ids_of, leftovers

pytestmark = pytest.mark.django_db(transaction=True)
ADMIN = Actor("admin")


def run_to_the_end(job: DeletionJob, limit: int = 10_000) -> DeletionJob:
    """Execute the job's steps in this process until it ends."""
    for _ in range(limit):
        job.refresh_from_db()
        if job.state in (JobState.DELETED, JobState.FAILED):
            return job
        deletion_job_run(job_id=job.pk, step=job.step)
    raise AssertionError(f"job {job.pk} did not end")


def test_group_deletion_removes_every_row_and_file_of_the_group_only() -> None:
    # given: a doomed group with two workspaces, and a bystander group
    doomed = make_group("doomed")
    first = make_workspace("first", doomed)
    second = make_workspace("second", doomed)
    for workspace in (first, second):
        make_rich_run(workspace)
        seed_runs(workspace, runs=30, points_per_run=20, files_per_run=2)
    bystander = make_workspace("bystander", make_group("kept"))
    make_rich_run(bystander)
    seed_runs(bystander, runs=10, points_per_run=5, files_per_run=1)
    doomed_ids = ids_of([first.pk, second.pk])
    before = everything_of([bystander.pk])
    bill = group_bill(group=doomed)

    # when
    job = resource_group_delete(group_name="doomed", confirm_name="doomed", actor=ADMIN)
    job = run_to_the_end(job)

    # then
    assert job.state == JobState.DELETED
    assert leftovers(doomed_ids) == {}
    assert not ResourceGroup.objects.filter(name="doomed").exists()
    assert everything_of([bystander.pk]) == before
    assert (job.total_runs, job.total_metric_points, job.total_files) == (
        bill.runs,
        bill.metric_points,
        bill.files,
    )
    assert job.deleted_runs == bill.runs == 62
    assert job.deleted_metric_points == bill.metric_points == 2 * (30 * 20 + 6)
    assert job.deleted_files == bill.files == 2 * (30 * 2 + 3)
    assert job.deleted_bytes == bill.bytes > 0
    assert job.deleted_workspaces == 2
    assert job.deleted_logged_models == 2
    assert job.objects_left == 0
    assert job.percent == 100.0
    assert not any(name.startswith("workspaces/") for name in _all_files() if "bystander" in name)


def _all_files() -> list[str]:
    return iter_files(artifact_storage(), "workspaces")


def test_marking_is_immediate_and_refuses_writes() -> None:
    group = make_group("busy")
    workspace = make_workspace("busy-ws", group)

    job = resource_group_delete(group_name="busy", confirm_name="busy", actor=ADMIN)

    group.refresh_from_db()
    workspace.refresh_from_db()
    assert group.state == ContainerState.DELETING
    assert workspace.state == ContainerState.DELETING
    assert job.state == JobState.PENDING
    with pytest.raises(Conflict, match="is being deleted and accepts no new data"):
        workspace_hold_for_write(workspace=workspace)
    with pytest.raises(Conflict, match="is being deleted"):
        workspace_create(resource_group=group, name="late-arrival")


def test_confirmation_must_be_the_exact_name() -> None:
    make_workspace("ws-a", make_group("team-a"))
    with pytest.raises(InvalidInput, match="Type the name 'team-a' exactly"):
        resource_group_delete(group_name="team-a", confirm_name="team-b", actor=ADMIN)
    with pytest.raises(NotFound):
        resource_group_delete(group_name="nope", confirm_name="nope", actor=ADMIN)
    assert ResourceGroup.objects.get(name="team-a").state == ContainerState.ACTIVE
    assert not DeletionJob.objects.exists()


def test_asking_twice_returns_the_same_job() -> None:
    make_workspace("ws-twice", make_group("twice"))
    first = resource_group_delete(group_name="twice", confirm_name="twice", actor=ADMIN)
    second = resource_group_delete(group_name="twice", confirm_name="twice", actor=ADMIN)
    assert first.pk == second.pk
    assert DeletionJob.objects.count() == 1


def test_reserved_default_workspace_is_not_deleted() -> None:
    group = make_group("default")
    make_workspace("default", group)
    with pytest.raises(InvalidInput, match="reserved"):
        resource_group_delete(group_name="default", confirm_name="default", actor=ADMIN)
    with pytest.raises(InvalidInput, match="reserved"):
        workspace_delete(
            group_name="default", workspace_name="default", confirm_name="default", actor=ADMIN
        )


def test_workspace_deletion_leaves_its_sibling() -> None:
    group = make_group("shared")
    doomed = make_workspace("doomed-ws", group)
    sibling = make_workspace("sibling-ws", group)
    make_rich_run(doomed)
    make_rich_run(sibling)
    doomed_ids = ids_of([doomed.pk])
    before = everything_of([sibling.pk])

    job = workspace_delete(
        group_name="shared", workspace_name="doomed-ws", confirm_name="doomed-ws", actor=ADMIN
    )
    job = run_to_the_end(job)

    assert job.state == JobState.DELETED
    assert leftovers(doomed_ids) == {}
    assert everything_of([sibling.pk]) == before
    assert ResourceGroup.objects.get(name="shared").state == ContainerState.ACTIVE


def test_workspace_of_a_group_being_deleted_is_not_deleted_separately() -> None:
    make_workspace("inner", make_group("outer"))
    resource_group_delete(group_name="outer", confirm_name="outer", actor=ADMIN)
    with pytest.raises(Conflict, match="is being deleted"):
        workspace_delete(
            group_name="outer", workspace_name="inner", confirm_name="inner", actor=ADMIN
        )


def test_steps_are_claimed_once_and_stale_messages_do_nothing() -> None:
    workspace = make_workspace("claims", make_group("claims"))
    seed_runs(workspace, runs=5, points_per_run=3)
    job = resource_group_delete(group_name="claims", confirm_name="claims", actor=ADMIN)

    assert deletion_job_run(job_id=job.pk, step=job.step + 5) == StepResult.SKIPPED
    assert deletion_job_run(job_id=10**9, step=0) == StepResult.GONE
    with override_settings(DELETION_STEP_SECONDS=0):
        assert deletion_job_run(job_id=job.pk, step=0) == StepResult.CONTINUED
        # The same message delivered again: the step was handed over already.
        assert deletion_job_run(job_id=job.pk, step=0) == StepResult.SKIPPED
    job.refresh_from_db()
    assert job.step == 1
    assert job.state == JobState.RUNNING
    assert job.lease_expires_at is None
    assert run_to_the_end(job).state == JobState.DELETED


def test_a_live_lease_keeps_a_second_worker_out() -> None:
    workspace = make_workspace("leased", make_group("leased"))
    seed_runs(workspace, runs=3, points_per_run=3)
    job = resource_group_delete(group_name="leased", confirm_name="leased", actor=ADMIN)
    from django.utils import timezone

    DeletionJob.objects.filter(pk=job.pk).update(
        lease_expires_at=timezone.now() + timezone.timedelta(minutes=1)
    )
    assert deletion_job_run(job_id=job.pk, step=0) == StepResult.SKIPPED
    assert Run.objects.filter(workspace=workspace).count() == 3


@override_settings(DELETION_METRIC_BATCH=7, DELETION_ROW_BATCH=4, DELETION_FILE_BATCH=3)
def test_work_is_done_in_bounded_units() -> None:
    workspace = make_workspace("bounded", make_group("bounded"))
    seed_runs(workspace, runs=10, points_per_run=5, files_per_run=2)
    job = resource_group_delete(group_name="bounded", confirm_name="bounded", actor=ADMIN)

    progress = []
    with override_settings(DELETION_STEP_SECONDS=0):  # one unit per step
        while job.state != JobState.DELETED:
            deletion_job_run(job_id=job.pk, step=job.step)
            job.refresh_from_db()
            progress.append((job.deleted_metric_points, job.deleted_runs, job.deleted_files))

    increments = [
        tuple(after - before for before, after in zip(a, b, strict=True))
        for a, b in zip([(0, 0, 0), *progress], progress, strict=False)
    ]
    assert max(points for points, _runs, _files in increments) <= 7
    assert max(runs for _points, runs, _files in increments) <= 4
    assert max(files for _points, _runs, files in increments) <= 3
    assert progress[-1] == (50, 10, 20)
    assert job.step >= 50 // 7 + 10 // 4 + 20 // 3


def test_audit_log_records_who_and_how_it_ended() -> None:
    make_workspace("audited-ws", make_group("audited"))
    job = resource_group_delete(group_name="audited", confirm_name="audited", actor=ADMIN)
    run_to_the_end(job)

    entries = list(AuditLog.objects.order_by("at", "id").values_list("actor", "action", "job"))
    assert entries == [
        ("admin", AuditAction.DELETION_REQUESTED, job.pk),
        ("system", AuditAction.DELETION_SUCCEEDED, job.pk),
    ]
    assert "1 workspaces" in AuditLog.objects.get(action=AuditAction.DELETION_SUCCEEDED).detail


def test_purge_removes_deleted_runs_and_experiments_only() -> None:
    workspace = make_workspace("purged", make_group("purge-group"))
    kept_experiment = make_experiment(workspace, "kept")
    kept_run = make_rich_run(workspace, kept_experiment)
    deleted_run = make_rich_run(workspace, kept_experiment)
    run_delete(run=deleted_run)
    doomed_experiment = make_experiment(workspace, "doomed")
    make_rich_run(workspace, doomed_experiment)
    experiment_delete(experiment=doomed_experiment)
    default_experiment = Experiment.objects.get(workspace=workspace, is_default=True)
    experiment_delete(experiment=default_experiment)
    storage = artifact_storage()
    kept_files = iter_files(storage, kept_run.artifact_prefix)

    job = deleted_objects_purge(group_name="purge-group", workspace_name="purged", actor=ADMIN)
    job = run_to_the_end(job)

    assert job.state == JobState.DELETED
    assert set(Run.objects.filter(workspace=workspace)) == {kept_run}
    assert set(Experiment.objects.filter(workspace=workspace).values_list("name", flat=True)) == {
        "kept",
        "Default",  # MLflow clients address it as "0": it stays, deleted
    }
    assert job.deleted_runs == 2
    assert job.deleted_experiments == 1
    assert job.deleted_logged_models == 1  # the doomed experiment's model
    assert job.deleted_files == 2 * 2 + 1
    assert iter_files(storage, deleted_run.artifact_prefix) == []
    assert iter_files(storage, kept_run.artifact_prefix) == kept_files
    assert Workspace.objects.get(pk=workspace.pk).state == ContainerState.ACTIVE


def test_purge_respects_older_than() -> None:
    workspace = make_workspace("aging", make_group("aging"))
    experiment = make_experiment(workspace)
    seed_runs(workspace, runs=2, experiment=experiment, deleted_time=now_ms() - 10 * 86_400_000)
    recent = seed_runs(workspace, runs=1, experiment=experiment, deleted_time=now_ms())

    job = deleted_objects_purge(
        group_name="aging", workspace_name="aging", actor=ADMIN, older_than_ms=86_400_000
    )
    job = run_to_the_end(job)

    assert list(Run.objects.filter(workspace=workspace)) == recent
    assert job.deleted_runs == 2


def test_restore_is_refused_while_a_purge_covers_it() -> None:
    workspace = make_workspace("restoring", make_group("restoring"))
    experiment = make_experiment(workspace)
    run = make_run(experiment)
    run_delete(run=run)
    other = make_experiment(workspace)
    experiment_delete(experiment=other)
    deleted_objects_purge(group_name="restoring", workspace_name="restoring", actor=ADMIN)

    run.refresh_from_db()
    with pytest.raises(Conflict, match="is being permanently deleted"):
        run_restore(run=run)
    other.refresh_from_db()
    with pytest.raises(Conflict, match="is being permanently deleted"):
        experiment_restore(experiment=other)


def test_purge_of_a_workspace_being_deleted_is_refused() -> None:
    make_workspace("going", make_group("going"))
    resource_group_delete(group_name="going", confirm_name="going", actor=ADMIN)
    with pytest.raises(Conflict):
        deleted_objects_purge(group_name="going", workspace_name="going", actor=ADMIN)


def test_kinds_have_one_active_job_per_target() -> None:
    workspace = make_workspace("unique", make_group("unique"))
    purge = deleted_objects_purge(group_name="unique", workspace_name="unique", actor=ADMIN)
    again = deleted_objects_purge(group_name="unique", workspace_name="unique", actor=ADMIN)
    assert purge.pk == again.pk
    assert purge.kind == DeletionKind.PURGE
    assert purge.target_id == workspace.pk


@override_settings(
    DELETION_LEASE_SECONDS=0,  # every claim finds the lease expired: both executors get in
    DELETION_STEP_SECONDS=0.3,
    DELETION_PAUSE_SECONDS=0.02,
    DELETION_METRIC_BATCH=50,
    DELETION_ROW_BATCH=10,
    DELETION_FILE_BATCH=5,
)
def test_two_executors_on_the_same_steps_count_everything_once() -> None:
    doomed = make_workspace("raced", make_group("raced"))
    seed_runs(doomed, runs=60, points_per_run=10, files_per_run=1)
    make_rich_run(doomed)
    bystander = make_workspace("calm", make_group("calm"))
    seed_runs(bystander, runs=5, points_per_run=3, files_per_run=1)
    ids = ids_of([doomed.pk])
    before = everything_of([bystander.pk])
    job = resource_group_delete(group_name="raced", confirm_name="raced", actor=ADMIN)
    results: dict[str, list[StepResult]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    start = threading.Barrier(2)

    def executor(name: str) -> None:
        start.wait()
        try:
            for _ in range(1000):
                current = DeletionJob.objects.get(pk=job.pk)
                if current.state == JobState.DELETED:
                    return
                results[name].append(deletion_job_run(job_id=job.pk, step=current.step))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=executor, args=(name,)) for name in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    job.refresh_from_db()
    assert job.state == JobState.DELETED
    # Both did real work (a skipped step does nothing), on the same steps at the same time.
    assert set(results["a"]) - {StepResult.SKIPPED}
    assert set(results["b"]) - {StepResult.SKIPPED}
    assert leftovers(ids) == {}
    assert everything_of([bystander.pk]) == before
    assert (job.deleted_runs, job.deleted_metric_points, job.deleted_files) == (
        job.total_runs,
        job.total_metric_points,
        job.total_files,
    )
    assert AuditLog.objects.filter(job=job, action=AuditAction.DELETION_SUCCEEDED).count() == 1
