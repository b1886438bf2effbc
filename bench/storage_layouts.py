"""What one log-batch of 1,000 points costs PostgreSQL in each way of storing metric history.

    python -m bench.storage_layouts [--database portal_bench] [--batches 200]

A log-batch from one mlflow client must leave the server about a third of the client's own
time per batch (docs/PERFORMANCE.md, log_batch). With a row per point, most of the portal's
share was the statement that inserted them. This measures, in a scratch schema of the given
database, the same batches (10 keys x 100 steps, as the client workload sends) stored as:

- `points`: one row per point with the portal's six-column primary key (Metric: log_metric
  calls, small batches and replays);
- `points, no index`: the same rows without any index, the floor of a row per point;
- `chunks`: one row per key and batch, the points in arrays (bigint[], float8[]), with a
  primary key on (run, key, first step, id): ten rows per batch;
- `chunks, uncompressed`: the same, with the arrays kept out of line uncompressed;
- `chunks, in line`: the same rows kept in line up to a page, uncompressed (what ships since
  the portal stores large batches as MetricChunk rows: migration 0009).

Each batch is one INSERT ... SELECT FROM unnest of array literals and its COMMIT, timed from
the client, as the portal sends it. Prints the median and p95 per batch for each layout.
"""

from __future__ import annotations

import argparse
import statistics
import time

import psycopg2

from bench.data import BASE_TIME_MS
from bench.servers import database_url

SCHEMA = "bench_storage_layouts"
KEYS, STEPS = 10, 100

LAYOUTS = {
    "points": (
        "run_id bigint NOT NULL, key varchar(250) NOT NULL, timestamp bigint NOT NULL, "
        "step bigint NOT NULL, value float8 NOT NULL, is_nan boolean NOT NULL, "
        "PRIMARY KEY (run_id, key, timestamp, step, value, is_nan)"
    ),
    "points, no index": (
        "run_id bigint NOT NULL, key varchar(250) NOT NULL, timestamp bigint NOT NULL, "
        "step bigint NOT NULL, value float8 NOT NULL, is_nan boolean NOT NULL"
    ),
    "chunks": (
        "id bigserial, run_id bigint NOT NULL, key varchar(250) NOT NULL, "
        "step_lo bigint NOT NULL, step_hi bigint NOT NULL, count integer NOT NULL, "
        "steps bigint[] NOT NULL, timestamps bigint[] NOT NULL, values float8[] NOT NULL, "
        "PRIMARY KEY (run_id, key, step_lo, id)"
    ),
}
# The same chunks, with the arrays stored out of line without trying to compress them (a
# chunk's 2.4 KB of arrays is past the 2 KB where PostgreSQL tries).
LAYOUTS["chunks, uncompressed"] = LAYOUTS["chunks"]
LAYOUTS["chunks, in line"] = LAYOUTS["chunks"]
UNCOMPRESSED = ("steps", "timestamps", "values")


def _array(items: list[object]) -> str:
    return "{" + ",".join(map(repr, items)) + "}"


def _points_statement(table: str, run: int, first_step: int) -> tuple[str, list[object]]:
    keys, timestamps, steps, values = [], [], [], []
    for key in range(KEYS):
        for offset in range(STEPS):
            step = first_step + offset
            keys.append(f"m{key}")
            timestamps.append(BASE_TIME_MS + step)
            steps.append(step)
            values.append(step / 7.0 + key)
    sql = (
        f"INSERT INTO {table} (run_id, key, timestamp, step, value, is_nan) "
        "SELECT %s, k, t, s, v, false FROM unnest(%s::varchar[], %s::bigint[], %s::bigint[], "
        "%s::float8[]) AS u(k, t, s, v)"
    )
    keys_literal = "{" + ",".join(f'"{key}"' for key in keys) + "}"
    return sql, [run, keys_literal, _array(timestamps), _array(steps), _array(values)]


def _chunks_statement(table: str, run: int, first_step: int) -> tuple[str, list[object]]:
    steps = list(range(first_step, first_step + STEPS))
    timestamps = [BASE_TIME_MS + step for step in steps]
    keys, step_arrays, timestamp_arrays, value_arrays = [], [], [], []
    for key in range(KEYS):
        keys.append(f"m{key}")
        step_arrays.append(_array(steps))
        timestamp_arrays.append(_array(timestamps))
        value_arrays.append(_array([step / 7.0 + key for step in steps]))

    def nested(arrays: list[str]) -> str:
        return "{" + ",".join(f'"{array}"' for array in arrays) + "}"

    sql = (
        f"INSERT INTO {table} (run_id, key, step_lo, step_hi, count, steps, timestamps, values) "
        "SELECT %s, k, %s, %s, %s, s::bigint[], t::bigint[], v::float8[] "
        "FROM unnest(%s::varchar[], %s::text[], %s::text[], %s::text[]) AS u(k, s, t, v)"
    )
    return sql, [
        run,
        steps[0],
        steps[-1],
        STEPS,
        "{" + ",".join(keys) + "}",
        nested(step_arrays),
        nested(timestamp_arrays),
        nested(value_arrays),
    ]


# Points each layout holds, to check that every batch was stored in full.
_STORED = {
    "points": "SELECT count(*) FROM {table}",
    "points, no index": "SELECT count(*) FROM {table}",
    "chunks": "SELECT sum(cardinality(values)) FROM {table}",
    "chunks, uncompressed": "SELECT sum(cardinality(values)) FROM {table}",
    "chunks, in line": "SELECT sum(cardinality(values)) FROM {table}",
}


def measure(dsn: str, batches: int) -> dict[str, list[float]]:
    """Milliseconds per batch (statement and COMMIT) for each layout, interleaved so that a
    change in the machine's speed touches every layout alike. Raises if a layout did not
    store every point."""
    connection = psycopg2.connect(dsn)
    timings: dict[str, list[float]] = {name: [] for name in LAYOUTS}
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
            for index, (name, columns) in enumerate(LAYOUTS.items()):
                cursor.execute(f"CREATE TABLE {SCHEMA}.layout_{index} ({columns})")
                if name in ("chunks, uncompressed", "chunks, in line"):
                    for column in UNCOMPRESSED:
                        cursor.execute(
                            f"ALTER TABLE {SCHEMA}.layout_{index} "
                            f"ALTER COLUMN {column} SET STORAGE EXTERNAL"
                        )
                if name == "chunks, in line":
                    cursor.execute(
                        f"ALTER TABLE {SCHEMA}.layout_{index} SET (toast_tuple_target = 8160)"
                    )
        connection.commit()
        for batch in range(batches):
            run, first_step = 1 + batch % 16, (batch // 16) * STEPS
            for index, name in enumerate(LAYOUTS):
                table = f"{SCHEMA}.layout_{index}"
                build = _chunks_statement if name.startswith("chunks") else _points_statement
                sql, params = build(table, run, first_step)
                start = time.perf_counter()
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                connection.commit()
                timings[name].append((time.perf_counter() - start) * 1000)
        with connection.cursor() as cursor:
            for index, name in enumerate(LAYOUTS):
                cursor.execute(_STORED[name].format(table=f"{SCHEMA}.layout_{index}"))
                (stored,) = cursor.fetchone()
                if stored != batches * KEYS * STEPS:
                    raise RuntimeError(f"{name}: {stored} points stored, not {batches * 1000}")
            cursor.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
        connection.commit()
    finally:
        connection.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="portal_bench")
    parser.add_argument("--batches", type=int, default=200)
    args = parser.parse_args()
    timings = measure(database_url(args.database), args.batches)
    print(f"{KEYS * STEPS:,} points per batch, {args.batches} batches, ms per batch:")
    print(f"{'layout':<22} {'median':>8} {'p95':>8}")
    for name, values in timings.items():
        p95 = statistics.quantiles(values, n=20)[-1]
        print(f"{name:<22} {statistics.median(values):>8.2f} {p95:>8.2f}")


if __name__ == "__main__":
    main()
