"""Deletion throughput: seed a resource group with many metric points and artifact files,
delete it through the deletion service (the code the Celery task runs, step after step, in
this process), and report rows and files per second.

    python -m bench.deletion                      # 1,000,000 metric points, 20,000 files
    DATABASE_URL=postgres://... python -m bench.deletion --metric-points 1000000

Uses the database of DATABASE_URL (default: the SQLite file under ./var) and a temporary
artifact folder. The seeded group is removed by the benchmark itself.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("ARTIFACT_ROOT", tempfile.mkdtemp(prefix="bench-deletion-artifacts-"))
# Each step enqueues the next one; nobody consumes them here, so keep them out of ./var.
os.environ.setdefault("CELERY_FILESYSTEM_DIR", tempfile.mkdtemp(prefix="bench-deletion-queue-"))


def seed(*, workspaces: int, runs: int, metric_points: int, files: int) -> str:
    """A group of `workspaces` x `runs` runs sharing `metric_points` points and `files` files.

    Metric history goes in with one INSERT ... SELECT per workspace (generate_series on
    PostgreSQL, a recursive CTE on SQLite); files are written straight to the folder.
    """
    from django.db import connection

    from experiments.models import Experiment, Run
    from experiments.services.workspaces import resource_group_create, workspace_create
    from experiments.storage import artifact_storage

    name = f"bench-deletion-{uuid.uuid4().hex[:8]}"
    group = resource_group_create(name=name)
    points_per_run = metric_points // (workspaces * runs)
    files_per_run = max(files // (workspaces * runs), 0)
    root = Path(artifact_storage().location)
    for index in range(workspaces):
        workspace = workspace_create(resource_group=group, name=f"{name}-{index}")
        experiment = Experiment.objects.get(workspace=workspace, is_default=True)
        created = Run.objects.bulk_create(
            (
                Run(
                    uuid=uuid.uuid4().hex,
                    experiment=experiment,
                    workspace=workspace,
                    start_time=0,
                    artifact_uri="mlflow-artifacts:/bench",
                )
                for _ in range(runs)
            ),
            batch_size=1000,
        )
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "INSERT INTO experiments_metric (run_id, key, timestamp, step, value, is_nan) "
                    "SELECT r.id, 'loss', s, s, 1.0 / (s + 1), false FROM experiments_run r "
                    "CROSS JOIN generate_series(0, %s - 1) AS s WHERE r.workspace_id = %s",
                    [points_per_run, workspace.pk],
                )
            else:
                cursor.execute(
                    "INSERT INTO experiments_metric (run_id, key, timestamp, step, value, is_nan) "
                    "WITH RECURSIVE steps(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM steps "
                    "WHERE s + 1 < %s) SELECT r.id, 'loss', s, s, 1.0 / (s + 1), 0 "
                    "FROM experiments_run r, steps WHERE r.workspace_id = %s",
                    [points_per_run, workspace.pk],
                )
        payload = b"x" * 1024
        for run in created:
            folder = root / f"workspaces/{workspace.pk}/runs/{run.uuid}/artifacts"
            folder.mkdir(parents=True, exist_ok=True)
            for number in range(files_per_run):
                (folder / f"file-{number}.bin").write_bytes(payload)
    return name


def delete(name: str) -> dict[str, float | int]:
    from experiments.choices import JobState
    from experiments.models import DeletionJob
    from experiments.services.audit import Actor
    from experiments.services.deletion import deletion_job_run, resource_group_delete

    started = time.perf_counter()
    job = resource_group_delete(group_name=name, confirm_name=name, actor=Actor("bench"))
    steps = 0
    # Rows go first, then files: the end of the last step without a deleted file splits the
    # time between the two (steps are short, see main()).
    rows_done_at = None
    while True:
        job.refresh_from_db()
        if job.deleted_files == 0:
            rows_done_at = time.perf_counter()
        if job.state in (JobState.DELETED, JobState.FAILED):
            break
        deletion_job_run(job_id=job.pk, step=job.step)
        steps += 1
    seconds = time.perf_counter() - started
    rows_seconds = rows_done_at - started
    files_seconds = max(seconds - rows_seconds, 1e-9)
    job = DeletionJob.objects.get(pk=job.pk)
    if job.state != JobState.DELETED:
        raise SystemExit(f"deletion failed: {job.error}")
    rows = (
        job.deleted_metric_points
        + job.deleted_runs
        + job.deleted_experiments
        + job.deleted_workspaces
    )
    return {
        "seconds": round(seconds, 2),
        "steps": steps,
        "metric_points": job.deleted_metric_points,
        "runs": job.deleted_runs,
        "rows": rows,
        "files": job.deleted_files,
        "bytes": job.deleted_bytes,
        "rows_seconds": round(rows_seconds, 2),
        "files_seconds": round(files_seconds, 2),
        "rows_per_second": round(rows / rows_seconds),
        "files_per_second": round(job.deleted_files / files_seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--metric-points", type=int, default=1_000_000)
    parser.add_argument("--workspaces", type=int, default=2)
    parser.add_argument("--runs", type=int, default=500, help="runs per workspace")
    parser.add_argument("--files", type=int, default=20_000)
    args = parser.parse_args()

    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    # Steps run back to back in this process; short ones time the two phases finely.
    settings.DELETION_PAUSE_SECONDS = 0
    settings.DELETION_STEP_SECONDS = 0.1

    started = time.perf_counter()
    name = seed(
        workspaces=args.workspaces,
        runs=args.runs,
        metric_points=args.metric_points,
        files=args.files,
    )
    seeded_in = time.perf_counter() - started
    result = delete(name)
    from django.db import connection

    report = {
        "database": connection.vendor,
        "python": platform.python_version(),
        "seeded_in_seconds": round(seeded_in, 1),
        "batch": {
            "metric": settings.DELETION_METRIC_BATCH,
            "rows": settings.DELETION_ROW_BATCH,
            "files": settings.DELETION_FILE_BATCH,
        },
        **result,
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"deletion-{connection.vendor}.json").write_text(json.dumps(report, indent=2))
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
