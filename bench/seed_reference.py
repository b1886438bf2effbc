"""Seed the reference server's database with direct SQL into MLflow's own schema.

Creating 10,000 runs or 100,000 experiments through the reference's API would take longer than
the benchmark itself, so rows go straight into the tables the reference's SQLAlchemy store
reads (the 3.17 schema: experiments, runs, tags, params, metrics, latest_metrics), exactly as
its API would have written them. bench.seed_portal writes the same data into the portal.
"""

from __future__ import annotations

import psycopg2
from psycopg2.extras import execute_values

from bench.data import BASE_TIME_MS, experiment_name, search_runs_data
from bench.servers import database_url

PAGE = 5000


def seed_runs(*, database: str, experiment_id: str, count: int, salt: str) -> None:
    runs, tags, params, metrics, latest = [], [], [], [], []
    for run in search_runs_data(count, salt=salt):
        runs.append(
            (
                run.uuid,
                run.name,
                "UNKNOWN",
                "",
                "",
                "bench",
                "FINISHED",
                run.start_time,
                run.end_time,
                "",
                "active",
                f"mlflow-artifacts:/{experiment_id}/{run.uuid}/artifacts",
                int(experiment_id),
            )
        )
        tags += [(key, value, run.uuid) for key, value in run.tags.items()]
        params += [(key, value, run.uuid) for key, value in run.params.items()]
        for key, value in run.metrics.items():
            metrics.append((key, value, run.start_time, run.uuid, 0, False))
            latest.append((key, value, run.start_time, 0, False, run.uuid))
    connection = psycopg2.connect(database_url(database))
    try:
        with connection, connection.cursor() as cursor:
            execute_values(
                cursor,
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name,"
                " user_id, status, start_time, end_time, source_version, lifecycle_stage,"
                " artifact_uri, experiment_id) VALUES %s",
                runs,
                page_size=PAGE,
            )
            execute_values(
                cursor, "INSERT INTO tags (key, value, run_uuid) VALUES %s", tags, page_size=PAGE
            )
            execute_values(
                cursor,
                "INSERT INTO params (key, value, run_uuid) VALUES %s",
                params,
                page_size=PAGE,
            )
            execute_values(
                cursor,
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES %s",
                metrics,
                page_size=PAGE,
            )
            execute_values(
                cursor,
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)"
                " VALUES %s",
                latest,
                page_size=PAGE,
            )
        _analyze(connection)
    finally:
        connection.close()


def seed_experiments(*, database: str, count: int) -> None:
    rows = [
        (experiment_name(i), "active", BASE_TIME_MS + i, BASE_TIME_MS + i, "default")
        for i in range(count)
    ]
    connection = psycopg2.connect(database_url(database))
    try:
        with connection, connection.cursor() as cursor:
            execute_values(
                cursor,
                "INSERT INTO experiments (name, lifecycle_stage, creation_time, last_update_time,"
                " workspace) VALUES %s",
                rows,
                page_size=PAGE,
            )
            # What the reference's create_experiment stores under --serve-artifacts.
            cursor.execute(
                "UPDATE experiments SET artifact_location = 'mlflow-artifacts:/' || experiment_id"
                " WHERE artifact_location IS NULL"
            )
        _analyze(connection)
    finally:
        connection.close()


def _analyze(connection: psycopg2.extensions.connection) -> None:
    # A production database has statistics; without them the planner guesses.
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
