"""Deletion through real Celery worker processes on the test run's broker and database."""

from __future__ import annotations

import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from experiments.choices import AuditAction, ContainerState, JobState
from experiments.models import AuditLog, DeletionJob, ResourceGroup, Workspace
from experiments.services.audit import Actor
from experiments.services.deletion import (
    deletion_job_enqueue,
    deletion_job_retry,
    resource_group_delete,
)
from experiments.storage import artifact_storage
from experiments.tasks import deletion_job_run
from tests.factories import make_group, make_rich_run, make_workspace, seed_runs
from tests.snapshots import everything_of, ids_of, leftovers
from tests.workers import CeleryWorker, broker_unreachable, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
ADMIN = Actor("admin")


def job_state(job: DeletionJob) -> str:
    job.refresh_from_db()
    return job.state


def test_worker_deletes_a_big_group_and_nothing_else(
    celery_workers: Callable[..., CeleryWorker],
) -> None:
    # given: several workspaces, thousands of runs, many artifact files; and a bystander
    doomed = make_group("doomed")
    workspaces = [make_workspace(f"doomed-{i}", doomed) for i in range(3)]
    for workspace in workspaces:
        make_rich_run(workspace)
        seed_runs(workspace, runs=700, points_per_run=5, files_per_run=0)
        seed_runs(workspace, runs=20, files_per_run=5)
    bystander = make_workspace("bystander", make_group("kept"))
    make_rich_run(bystander)
    seed_runs(bystander, runs=50, points_per_run=5, files_per_run=2)
    doomed_ids = ids_of([w.pk for w in workspaces])
    before = everything_of([bystander.pk])
    assert len(doomed_ids["runs"]) == 3 * 721
    celery_workers()

    # when
    job = resource_group_delete(group_name="doomed", confirm_name="doomed", actor=ADMIN)

    # then
    wait_for(lambda: job_state(job) == JobState.DELETED, 120, "the job to finish")
    assert leftovers(doomed_ids) == {}
    assert everything_of([bystander.pk]) == before
    assert job.deleted_runs == job.total_runs == 3 * 721
    assert job.deleted_metric_points == job.total_metric_points == 3 * (700 * 5 + 6)
    assert job.deleted_files == job.total_files == 3 * (20 * 5 + 3)
    assert job.step >= 1  # it handed over between steps


def seed_doomed_and_bystander(runs: int = 300, points: int = 20) -> tuple[dict, int]:
    doomed = make_group("doomed")
    workspaces = [make_workspace(f"doomed-{i}", doomed) for i in range(2)]
    for workspace in workspaces:
        make_rich_run(workspace)
        seed_runs(workspace, runs=runs, points_per_run=points)
        seed_runs(workspace, runs=30, files_per_run=4)
    bystander = make_workspace("bystander", make_group("kept"))
    seed_runs(bystander, runs=20, points_per_run=5, files_per_run=2)
    return ids_of([w.pk for w in workspaces]), bystander.pk


def test_sigkill_in_the_middle_then_a_new_worker_finishes(
    celery_workers: Callable[..., CeleryWorker],
) -> None:
    doomed_ids, bystander = seed_doomed_and_bystander()
    before = everything_of([bystander])
    slow = celery_workers(DELETION_PAUSE_SECONDS="0.05")
    job = resource_group_delete(group_name="doomed", confirm_name="doomed", actor=ADMIN)

    def midway() -> bool:
        job.refresh_from_db()
        return job.surveyed and 0 < job.objects_deleted < job.objects_total // 2

    wait_for(midway, 60, "the deletion to be under way")
    slow.kill()
    job.refresh_from_db()
    assert job.state == JobState.RUNNING
    stopped_at = job.objects_deleted
    assert leftovers(doomed_ids)  # it really stopped midway
    time.sleep(1)
    job.refresh_from_db()
    assert job.objects_deleted == stopped_at  # nobody works on it

    celery_workers()
    wait_for(lambda: job_state(job) == JobState.DELETED, 60, "the job to finish")

    assert leftovers(doomed_ids) == {}
    assert everything_of([bystander]) == before
    # Rows are counted in the transaction that removes them: exact across the crash.
    assert job.deleted_runs == job.total_runs
    assert job.deleted_metric_points == job.total_metric_points


def test_two_workers_running_the_same_step_at_once_do_no_harm(
    celery_workers: Callable[..., CeleryWorker],
) -> None:
    doomed_ids, bystander = seed_doomed_and_bystander(runs=200)
    before = everything_of([bystander])
    # Leases shorter than a step: the second worker takes over a step the first is still on.
    racing = {
        "DELETION_LEASE_SECONDS": "0.2",
        "DELETION_STEP_SECONDS": "0.6",
        "DELETION_PAUSE_SECONDS": "0.05",
    }
    first, second = celery_workers(**racing), celery_workers(**racing)
    job = resource_group_delete(group_name="doomed", confirm_name="doomed", actor=ADMIN)
    for _ in range(3):  # the same message, delivered again
        deletion_job_enqueue(job_id=job.pk, step=0)
    for worker in (first, second):  # and one copy for each worker
        deletion_job_run.apply_async(args=(job.pk, 0), queue=worker.queue)

    wait_for(lambda: job_state(job) == JobState.DELETED, 90, "the job to finish")

    assert leftovers(doomed_ids) == {}
    assert everything_of([bystander]) == before
    assert job.deleted_runs == job.total_runs
    assert job.deleted_metric_points == job.total_metric_points
    assert job.deleted_files == job.total_files
    assert AuditLog.objects.filter(job=job, action=AuditAction.DELETION_SUCCEEDED).count() == 1
    # Both workers ran copies (which of them won each claim is up to timing; the in-process
    # test in tests/services runs two executors on one step deterministically). A worker's
    # own copy may still be on its way when the job is done.
    for worker in (first, second):
        wait_for(lambda w=worker: "succeeded in" in w.output(), 30, f"a copy on {worker.id}")


@contextmanager
def database_locked() -> Iterator[None]:
    """Another connection holds a lock the deletion needs, from a thread, until the block ends
    (however long the worker takes to start and meet it; at most two minutes)."""
    release = threading.Event()
    locked = threading.Event()

    def hold() -> None:
        if connection.vendor == "postgresql":
            import psycopg2

            db = connection.settings_dict
            raw = psycopg2.connect(
                dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"]
            )
            raw.cursor().execute("LOCK TABLE experiments_metric IN ACCESS EXCLUSIVE MODE")
        else:
            raw = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
            raw.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(120)
        raw.rollback()
        raw.close()

    thread = threading.Thread(target=hold)
    thread.start()
    locked.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join()


def test_a_transient_database_error_is_retried_with_backoff(
    celery_workers: Callable[..., CeleryWorker],
) -> None:
    doomed_ids, _ = seed_doomed_and_bystander(runs=20, points=5)
    job = resource_group_delete(group_name="doomed", confirm_name="doomed", actor=ADMIN)
    with database_locked():
        worker = celery_workers(DB_LOCK_TIMEOUT_MS="200", DB_BUSY_TIMEOUT="1")
        wait_for(lambda: "Retry in" in worker.output(), 60, "a retry")
    wait_for(lambda: job_state(job) == JobState.DELETED, 60, "the job to finish")
    assert leftovers(doomed_ids) == {}
    assert re.search(
        r"Retry in \d+s: OperationalError.*(lock timeout|database is locked)", worker.output()
    )


def test_a_permanent_error_fails_the_job_with_its_reason_and_retry_resumes(
    celery_workers: Callable[..., CeleryWorker], tmp_path: Path
) -> None:
    # given: a workspace folder that an operator moved to another disk with a symbolic link,
    # which the deletion refuses to follow
    doomed_ids, _ = seed_doomed_and_bystander(runs=10, points=2)
    storage = artifact_storage()
    folder = Path(storage.path(f"workspaces/{doomed_ids['workspaces'][0]}"))
    moved = tmp_path / "moved"
    shutil.move(folder, moved)
    folder.symlink_to(moved)
    celery_workers()

    job = resource_group_delete(group_name="doomed", confirm_name="doomed", actor=ADMIN)
    wait_for(lambda: job_state(job) == JobState.FAILED, 60, "the job to fail")

    assert "SuspiciousFileOperation" in job.error
    assert "symbolic link" in job.error
    assert AuditLog.objects.filter(job=job, action=AuditAction.DELETION_FAILED).exists()
    assert ResourceGroup.objects.get(name="doomed").state == ContainerState.DELETING
    assert Workspace.objects.filter(pk__in=doomed_ids["workspaces"]).count() == 2

    # when: the operator puts the folder back and retries
    folder.unlink()
    shutil.move(moved, folder)
    deletion_job_retry(job_id=job.pk, actor=ADMIN)

    wait_for(lambda: job_state(job) == JobState.DELETED, 60, "the retried job to finish")
    assert leftovers(doomed_ids) == {}
    actions = list(AuditLog.objects.filter(job=job).order_by("id").values_list("action", flat=True))
    assert actions == [
        AuditAction.DELETION_REQUESTED,
        AuditAction.DELETION_FAILED,
        AuditAction.DELETION_RETRIED,
        AuditAction.DELETION_SUCCEEDED,
    ]


def test_broker_unreachable_when_the_admin_confirms_nothing_is_dropped(
    celery_workers: Callable[..., CeleryWorker], web_client: Client
) -> None:
    doomed_ids, _ = seed_doomed_and_bystander(runs=10, points=2)
    url = reverse("experiments:group-delete", args=["doomed"])

    # when: the admin confirms while the broker refuses connections
    with broker_unreachable():
        started = time.monotonic()
        response = web_client.post(url, {"confirm_name": "doomed"}, follow=True)
        answered_in = time.monotonic() - started

    # then: the page says so, and the job is recorded and waits
    page = response.content.decode()
    assert response.status_code == 200
    assert answered_in < 15
    assert "the task queue could not be reached" in page
    assert "nothing is lost" in page
    job = DeletionJob.objects.get()
    assert job.state == JobState.PENDING
    assert "could not be reached" in job.enqueue_error
    assert ResourceGroup.objects.get(name="doomed").state == ContainerState.DELETING
    job_page = web_client.get(reverse("experiments:job-detail", args=[job.pk])).content.decode()
    assert '<p id="job-waiting" class="notice" >' in job_page

    # when the queue is back (a worker connects): its sweeper enqueues the job
    celery_workers()
    wait_for(lambda: job_state(job) == JobState.DELETED, 60, "the job to finish")
    assert leftovers(doomed_ids) == {}
    assert job.enqueue_error == ""
