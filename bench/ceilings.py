"""The ceilings the servers are measured against.

- PostgreSQL COPY of metric rows into a scratch copy of the portal's metric table (same
  columns, primary key and indexes: `LIKE ... INCLUDING ALL`): the fastest the database can
  take the rows the ingest workload sends.
- The mlflow client against bench.null_server: the fastest the client itself can log
  (measured by the client workloads in bench.workloads with `verify=False`).
"""

from __future__ import annotations

import io
import time

import psycopg2

from bench.data import BASE_TIME_MS
from bench.servers import database_url

METRIC_TABLE = "experiments_metric"
SCRATCH_TABLE = "bench_copy_ceiling"


def copy_rows_per_second(*, database: str, rows: int, keys: int = 10, steps: int = 100) -> float:
    """COPY `rows` metric rows (runs x keys x steps) into an indexed scratch table; rows/s."""
    buffer = io.StringIO()
    per_run = keys * steps
    for n in range(rows):
        run, rest = divmod(n, per_run)
        key, step = divmod(rest, steps)
        buffer.write(f"{run + 1}\tm{key}\t{BASE_TIME_MS + step}\t{step}\t{n / 7.0!r}\tf\n")
    buffer.seek(0)
    connection = psycopg2.connect(database_url(database))
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {SCRATCH_TABLE}")
            cursor.execute(f"CREATE TABLE {SCRATCH_TABLE} (LIKE {METRIC_TABLE} INCLUDING ALL)")
        connection.commit()
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.copy_expert(
                f"COPY {SCRATCH_TABLE} (run_id, key, timestamp, step, value, is_nan) FROM STDIN",
                buffer,
            )
        connection.commit()
        seconds = time.perf_counter() - start
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {SCRATCH_TABLE}")
        connection.commit()
    finally:
        connection.close()
    return rows / seconds
