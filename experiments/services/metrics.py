"""Bulk ingest of metric points: one statement per table, whatever the batch size.

History rows are inserted with ON CONFLICT DO NOTHING, so a replayed batch stores nothing
twice; the latest value per key is upserted in the same transaction, only where the new point
is newer by (step, timestamp, value) as MLflow defines it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from django.db import connection

from experiments.models import LatestMetric, Metric


class MetricRow(NamedTuple):
    """A metric point as stored: NaN is value 0.0 with is_nan set."""

    key: str
    timestamp: int
    step: int
    value: float
    is_nan: bool


def latest_per_key(rows: Iterable[MetricRow]) -> list[MetricRow]:
    """The newest row per key by (step, timestamp, value), sorted by key for lock ordering."""
    best: dict[str, MetricRow] = {}
    for row in rows:
        current = best.get(row.key)
        if current is None or (row.step, row.timestamp, row.value) > (
            current.step,
            current.timestamp,
            current.value,
        ):
            best[row.key] = row
    return [best[key] for key in sorted(best)]


_METRIC_TABLE = Metric._meta.db_table
_LATEST_TABLE = LatestMetric._meta.db_table
_NEWER = (
    "(excluded.step, excluded.timestamp, excluded.value) > "
    f"({_LATEST_TABLE}.step, {_LATEST_TABLE}.timestamp, {_LATEST_TABLE}.value)"
)
_UPSERT_TAIL = (
    "ON CONFLICT (run_id, key) DO UPDATE SET timestamp = excluded.timestamp, "
    "step = excluded.step, value = excluded.value, is_nan = excluded.is_nan "
    f"WHERE {_NEWER}"
)

_PG_INSERT_HISTORY = (
    f"INSERT INTO {_METRIC_TABLE} (run_id, key, timestamp, step, value, is_nan) "
    "SELECT %s, * FROM unnest(%s::varchar[], %s::bigint[], %s::bigint[], %s::float8[], "
    "%s::boolean[]) ON CONFLICT DO NOTHING"
)
_PG_UPSERT_LATEST = (
    f"INSERT INTO {_LATEST_TABLE} (run_id, key, timestamp, step, value, is_nan) "
    "SELECT %s, * FROM unnest(%s::varchar[], %s::bigint[], %s::bigint[], %s::float8[], "
    f"%s::boolean[]) {_UPSERT_TAIL}"
)
_SQLITE_INSERT_HISTORY = (
    f"INSERT OR IGNORE INTO {_METRIC_TABLE} (run_id, key, timestamp, step, value, is_nan) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)
_SQLITE_UPSERT_LATEST = (
    f"INSERT INTO {_LATEST_TABLE} (run_id, key, timestamp, step, value, is_nan) "
    f"VALUES (%s, %s, %s, %s, %s, %s) {_UPSERT_TAIL}"
)


def _float_literal(value: float) -> str:
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    return repr(value)


def _text_literal(value: str) -> str:
    if '"' in value or "\\" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return value


def _columns(run_pk: int, rows: Sequence[MetricRow]) -> list[object]:
    """The rows as five PostgreSQL array literals.

    Passing each column as one text parameter costs a fraction of psycopg2 adapting thousands
    of Python values one by one, which otherwise dominates the request.
    """
    keys, timestamps, steps, values, nans = zip(*rows, strict=True)
    return [
        run_pk,
        '{"' + '","'.join(map(_text_literal, keys)) + '"}',
        "{" + ",".join(map(str, timestamps)) + "}",
        "{" + ",".join(map(str, steps)) + "}",
        "{" + ",".join(map(_float_literal, values)) + "}",
        "{" + ",".join("t" if nan else "f" for nan in nans) + "}",
    ]


def metrics_insert(*, run_pk: int, rows: Sequence[MetricRow]) -> None:
    """Insert history rows and refresh latest values. Call inside a transaction."""
    if not rows:
        return
    latest = latest_per_key(rows)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_INSERT_HISTORY, _columns(run_pk, rows))
            cursor.execute(_PG_UPSERT_LATEST, _columns(run_pk, latest))
        else:
            cursor.executemany(_SQLITE_INSERT_HISTORY, [(run_pk, *row) for row in rows])
            cursor.executemany(_SQLITE_UPSERT_LATEST, [(run_pk, *row) for row in latest])
