"""Metric history has no foreign key: a batch under way and a deletion of its run must still
never leave points without a run (see experiments.models.runs.Metric)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from experiments.choices import JobState
from experiments.models import MetricHistory, Run
from experiments.services.audit import Actor
from experiments.services.deletion import deletion_job_run, workspace_delete
from experiments.services.runs import (
    _INGEST_LOCK,
    MetricPoint,
    run_lock_for_ingest,
    run_log_batch,
)
from tests.factories import make_experiment, make_group, make_run, make_workspace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def _purge_to_the_end(job_id: int) -> None:
    from experiments.models import DeletionJob

    try:
        for _ in range(1000):
            job = DeletionJob.objects.get(pk=job_id)
            if job.state in (JobState.DELETED, JobState.FAILED):
                return
            deletion_job_run(job_id=job.pk, step=job.step)
    finally:
        connections.close_all()


def test_a_batch_under_way_is_deleted_with_its_run_not_left_behind() -> None:
    import psycopg2

    # given: a run with history, and a batch under way in another connection, holding the run
    # as ingest does
    workspace = make_workspace("racing", make_group("race-group"))
    run = make_run(make_experiment(workspace))
    run_log_batch(run=run, metrics=[MetricPoint("m", 1.0, 1, 0)])
    cfg = connection.settings_dict
    ingest = psycopg2.connect(dbname=cfg["NAME"], user=cfg["USER"], host=cfg["HOST"])
    cursor = ingest.cursor()
    cursor.execute(
        f"SELECT lifecycle_stage FROM experiments_run WHERE id = %s{_INGEST_LOCK}", [run.pk]
    )
    # when: the workspace is deleted while the batch is still open
    job = workspace_delete(
        group_name="race-group",
        workspace_name="racing",
        confirm_name="racing",
        actor=Actor("admin"),
    )
    purge = threading.Thread(target=_purge_to_the_end, args=[job.pk])
    purge.start()
    time.sleep(1.5)
    waited = purge.is_alive()
    # The batch stores a point row and a chunk of three points.
    cursor.execute(
        "INSERT INTO experiments_metric (run_id, key, timestamp, step, value, is_nan) "
        "VALUES (%s, 'm', 2, 1, 2.0, false)",
        [run.pk],
    )
    cursor.execute(
        "INSERT INTO experiments_metricchunk (run_id, key, step_lo, step_hi, timestamp_lo, "
        "timestamp_hi, count, steps, timestamps, values, nans) VALUES (%s, 'm', 2, 4, 3, 5, 3, "
        "'{2,3,4}', '{3,4,5}', '{1,2,3}', '{f,f,f}')",
        [run.pk],
    )
    ingest.commit()
    ingest.close()
    purge.join(timeout=60)
    # then: the deletion waited for the batch and removed its points with the run, counted
    assert waited, "the deletion did not wait for the batch under way"
    assert not Run.objects.filter(pk=run.pk).exists()
    assert not MetricHistory.objects.filter(run_id=run.pk).exists()
    job.refresh_from_db()
    assert (job.state, job.deleted_metric_points) == (JobState.DELETED, 5)


def test_ingest_refuses_a_run_deleted_before_it_took_the_lock() -> None:
    from experiments.errors import NotFound

    run = make_run(make_experiment(make_workspace()))
    Run.objects.filter(pk=run.pk).delete()
    with pytest.raises(NotFound):
        run_lock_for_ingest(run)
