"""Metric history has no foreign key: a batch under way and a deletion of its run must still
never leave points without a run (see experiments.models.runs.Metric)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from experiments.choices import JobState
from experiments.models import Metric, Run
from experiments.services.audit import Actor
from experiments.services.deletion import deleted_objects_purge, deletion_job_run
from experiments.services.runs import MetricPoint, run_delete, run_lock_for_ingest, run_log_batch
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
        "SELECT lifecycle_stage FROM experiments_run WHERE id = %s FOR KEY SHARE", [run.pk]
    )
    # The run is deleted meanwhile (its status can change while a batch holds it) ...
    run_delete(run=run)
    cursor.execute(
        "INSERT INTO experiments_metric (run_id, key, timestamp, step, value, is_nan) "
        "VALUES (%s, 'm', 2, 1, 2.0, false)",
        [run.pk],
    )
    # when: ... and purged while the batch is still open
    job = deleted_objects_purge(
        group_name="race-group", workspace_name="racing", actor=Actor("admin")
    )
    purge = threading.Thread(target=_purge_to_the_end, args=[job.pk])
    purge.start()
    time.sleep(1.5)
    waited = purge.is_alive()
    ingest.commit()
    ingest.close()
    purge.join(timeout=60)
    # then: the purge waited for the batch and removed its points with the run
    assert waited, "the purge did not wait for the batch under way"
    assert not Run.objects.filter(pk=run.pk).exists()
    assert not Metric.objects.filter(run_id=run.pk).exists()


def test_ingest_refuses_a_run_deleted_before_it_took_the_lock() -> None:
    from experiments.errors import NotFound

    run = make_run(make_experiment(make_workspace()))
    Run.objects.filter(pk=run.pk).delete()
    with pytest.raises(NotFound):
        run_lock_for_ingest(run)
