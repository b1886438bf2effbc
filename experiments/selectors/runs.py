from __future__ import annotations

import base64
import binascii
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db import connection
from django.db.models import BooleanField, QuerySet

from experiments.errors import InvalidInput, NotFound
from experiments.models import (
    Experiment,
    InputTag,
    LatestMetric,
    Metric,
    MetricChunk,
    Param,
    Run,
    RunInput,
    RunModelInput,
    RunModelOutput,
    RunTag,
    Workspace,
)
from experiments.prepared import PreparedStatement
from experiments.validation import INT64_MAX, INT64_MIN


def runs_in(*, workspace: Workspace) -> QuerySet[Run]:
    """The scoping root of every run query."""
    return Run.objects.filter(workspace=workspace)


_RUN_COLUMNS = [field.attname for field in Run._meta.concrete_fields]
_EXPERIMENT_COLUMNS = [field.attname for field in Experiment._meta.concrete_fields]
_EXPERIMENT_BOOLEANS = [
    index
    for index, field in enumerate(Experiment._meta.concrete_fields)
    if isinstance(field, BooleanField)
]
# runs_in(workspace).select_related("experiment").filter(uuid=run_id), written out: the ORM
# took longer to compile it than the database to run it, on every get_run and artifact
# request (an upload of many small files makes one per file).
_RUN_GET = PreparedStatement(
    "SELECT "
    + ", ".join(
        [f"r.{field.column}" for field in Run._meta.concrete_fields]
        + [f"e.{field.column}" for field in Experiment._meta.concrete_fields]
    )
    + f" FROM {Run._meta.db_table} r JOIN {Experiment._meta.db_table} e"
    f" ON e.{Experiment._meta.pk.column} = r.{Run._meta.get_field('experiment').column}"
    f" WHERE r.{Run._meta.get_field('uuid').column} = %s"
    f" AND r.{Run._meta.get_field('workspace').column} = %s"
)


def run_get(*, workspace: Workspace, run_id: str) -> Run:
    """A run of the workspace, with its experiment."""
    with connection.cursor() as cursor:
        cursor.execute(_RUN_GET.sql(cursor), [run_id, workspace.pk])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"Run with id={run_id} not found")
    split = len(_RUN_COLUMNS)
    experiment = list(row[split:])
    for index in _EXPERIMENT_BOOLEANS:  # SQLite returns 0 and 1; the ORM would convert them
        experiment[index] = bool(experiment[index])
    run = Run.from_db(connection.alias, _RUN_COLUMNS, row[:split])
    run.experiment = Experiment.from_db(connection.alias, _EXPERIMENT_COLUMNS, experiment)
    run.workspace = workspace
    return run


@dataclass
class DatasetInputData:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str
    profile: str
    tags: list[tuple[str, str]]


class LatestValue(NamedTuple):
    """A run's newest point of one metric (see LatestMetric), read without a model instance."""

    key: str
    value: float
    timestamp: int
    step: int
    is_nan: bool

    @property
    def real_value(self) -> float:
        return math.nan if self.is_nan else self.value


@dataclass
class RunDetails:
    """A run with everything get_run and search_runs report about it."""

    run: Run
    metrics: list[LatestValue] = field(default_factory=list)
    params: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)
    dataset_inputs: list[DatasetInputData] = field(default_factory=list)
    model_inputs: list[str] = field(default_factory=list)
    model_outputs: list[tuple[str, int]] = field(default_factory=list)


# Everything runs_details reads, in one statement: latest metrics (kind 0), params (1), tags (2),
# model inputs (3) and outputs (4), and the ids of dataset inputs (5), which are rare and read
# by the ORM only when there are any. Typed columns per kind:
# (kind, run_id, key, text value or model id, number value, timestamp, step, is_nan, id).
_DETAILS_SQL = """
SELECT 0, run_id, key, NULL, value, timestamp, step, is_nan, 0
    FROM {latest} WHERE run_id {pks}
UNION ALL SELECT 1, run_id, key, value, NULL, NULL, NULL, NULL, 0
    FROM {params} WHERE run_id {pks}
UNION ALL SELECT 2, run_id, key, value, NULL, NULL, NULL, NULL, 0
    FROM {tags} WHERE run_id {pks}
UNION ALL SELECT 3, run_id, '', model_id, NULL, NULL, NULL, NULL, id
    FROM {model_inputs} WHERE run_id {pks}
UNION ALL SELECT 4, run_id, '', model_id, NULL, NULL, step, NULL, id
    FROM {model_outputs} WHERE run_id {pks}
UNION ALL SELECT 5, run_id, '', NULL, NULL, NULL, NULL, NULL, id
    FROM {inputs} WHERE run_id {pks}
"""


def _pks_condition(pks: Iterable[int]) -> str:
    """`IN` a list of primary keys, written into the statement: they are integers from the
    database, and the ORM's IN lookup prepares each as a parameter, which costs more than the
    query for a thousand of them. PostgreSQL gets one array (a thousand-item IN list takes it
    milliseconds to plan)."""
    numbers = ",".join(str(int(pk)) for pk in pks)
    if connection.vendor == "postgresql":
        return f"= ANY('{{{numbers}}}'::bigint[])"
    return f"IN ({numbers})"


def runs_details(runs: Sequence[Run]) -> list[RunDetails]:
    """Attach metrics, params, tags, inputs and outputs to runs: one query, two more for runs
    with dataset inputs. Metrics, params and tags come sorted by key, inputs and outputs in the
    order they were logged."""
    details = {run.pk: RunDetails(run=run) for run in runs}
    if not details:
        return []
    sql = _DETAILS_SQL.format(
        pks=_pks_condition(details),
        latest=LatestMetric._meta.db_table,
        params=Param._meta.db_table,
        tags=RunTag._meta.db_table,
        model_inputs=RunModelInput._meta.db_table,
        model_outputs=RunModelOutput._meta.db_table,
        inputs=RunInput._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    logged: list[tuple[int, int, int, str, int]] = []
    input_pks = []
    for kind, run_pk, key, text, number, timestamp, step, is_nan, pk in rows:
        run_details = details[run_pk]
        if kind == 0:
            # SQLite gives the boolean as 0 or 1.
            run_details.metrics.append(LatestValue(key, number, timestamp, step, bool(is_nan)))
        elif kind == 1:
            run_details.params.append((key, text))
        elif kind == 2:
            run_details.tags.append((key, text))
        elif kind == 5:
            input_pks.append(pk)
        else:
            logged.append((kind, pk, run_pk, text, step))
    # Sorted here rather than by the database: by code point, whatever its collation, and
    # sorting a few items per run costs less than sorting the page's thousands of rows by key.
    for run_details in details.values():
        run_details.metrics.sort()
        run_details.params.sort()
        run_details.tags.sort()
    for kind, _, run_pk, model_id, step in sorted(logged):
        if kind == 3:
            details[run_pk].model_inputs.append(model_id)
        else:
            details[run_pk].model_outputs.append((model_id, step))
    if input_pks:
        _attach_dataset_inputs(details, input_pks)
    return [details[run.pk] for run in runs]


def _attach_dataset_inputs(details: dict[int, RunDetails], input_pks: list[int]) -> None:
    inputs = list(
        RunInput.objects.filter(pk__in=input_pks).select_related("dataset").order_by("pk")
    )
    input_tags: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for input_pk, key, value in (
        InputTag.objects.filter(run_input__in=inputs)
        .order_by("pk")
        .values_list("run_input_id", "key", "value")
    ):
        input_tags[input_pk].append((key, value))
    for run_input in inputs:
        dataset = run_input.dataset
        details[run_input.run_id].dataset_inputs.append(
            DatasetInputData(
                name=dataset.name,
                digest=dataset.digest,
                source_type=dataset.source_type,
                source=dataset.source,
                schema=dataset.schema,
                profile=dataset.profile,
                tags=input_tags[run_input.pk],
            )
        )


def run_details(run: Run) -> RunDetails:
    return runs_details([run])[0]


def encode_offset_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_offset_token(token: str | None) -> int:
    """The offset in an opaque page token (base64 JSON, like MLflow's)."""
    if not token:
        return 0
    try:
        payload = json.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        payload = None
    offset = payload.get("offset") if isinstance(payload, dict) else None
    # Exactly an int: json gives floats (also inf and NaN) and bools for other tokens.
    if type(offset) is not int or not 0 <= offset <= INT64_MAX:
        raise InvalidInput(f"Invalid page token '{token[:100]}'.")
    return offset


_HISTORY_SQL = (
    f"SELECT value, timestamp, step, is_nan FROM {Metric._meta.db_table} "
    # The whole primary key in ORDER BY: the index gives this order, which the planner sees
    # even when statistics are stale after a bulk ingest (else it may sort every point).
    "WHERE run_id = %s AND key = %s{after} "
    "ORDER BY run_id, key, timestamp, step, value, is_nan{limit}"
)
_AFTER = " AND (timestamp, step, value, is_nan) > (%s, %s, %s, %s)"
# On PostgreSQL the points of chunks too (see MetricChunk), merged in the same order. Only the
# chunks that can hold points of the page are unnested: not those whose points all lie before
# the page token, nor those that start after the end of the first chunks after the token that
# hold a page of points between them (their points come after all of those).
_CHUNKS = MetricChunk._meta.db_table
_PG_HISTORY_SQL = (
    "SELECT value, timestamp, step, is_nan FROM ("
    f"SELECT value, timestamp, step, is_nan FROM {Metric._meta.db_table} "
    "WHERE run_id = %s AND key = %s{after} "
    "UNION ALL SELECT p.value, p.timestamp, p.step, p.is_nan "
    f"FROM {_CHUNKS} AS c CROSS JOIN LATERAL "
    "unnest(c.timestamps, c.steps, c.values, c.nans) AS p(timestamp, step, value, is_nan) "
    "WHERE c.run_id = %s AND c.key = %s{chunk_after}{chunk_bound}"
    ") AS history ORDER BY timestamp, step, value, is_nan{limit}"
)
_CHUNK_AFTER = (
    " AND c.timestamp_hi >= %s AND (p.timestamp, p.step, p.value, p.is_nan) > (%s, %s, %s, %s)"
)
_CHUNK_BOUND = (
    " AND c.timestamp_lo <= coalesce((SELECT max(b.timestamp_hi) FROM (SELECT timestamp_hi, "
    "sum(count) OVER (ORDER BY timestamp_lo, step_lo) - count AS before "
    f"FROM {_CHUNKS} WHERE run_id = %s AND key = %s AND timestamp_lo > %s) AS b "
    "WHERE b.before < %s), 9223372036854775807)"
)


def _encode_history_token(row: tuple[float, int, int, bool]) -> str:
    value, timestamp, step, is_nan = row
    payload = json.dumps({"after": [timestamp, step, repr(value), bool(is_nan)]})
    return base64.urlsafe_b64encode(payload.encode()).decode()


def _decode_history_token(token: str) -> tuple[int, int, float, bool]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token))
    except (binascii.Error, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        payload = None
    after = payload.get("after") if isinstance(payload, dict) else None
    if not (
        isinstance(after, list)
        and len(after) == 4
        and all(type(n) is int and INT64_MIN <= n <= INT64_MAX for n in after[:2])
        and isinstance(after[2], str)
        and type(after[3]) is bool
    ):
        raise InvalidInput(f"Invalid page token '{token[:100]}'.")
    try:
        value = float(after[2])
    except ValueError:
        raise InvalidInput(f"Invalid page token '{token[:100]}'.") from None
    return after[0], after[1], value, after[3]


def metric_history(
    *, run: Run, key: str, max_results: int | None = None, page_token: str | None = None
) -> tuple[list[tuple[float, int, int, bool]], str | None]:
    """A page of a metric's history as (value, timestamp, step, is_nan) rows.

    Ordered by timestamp, step and value as MLflow orders it. The page token holds the last row
    returned, not an offset: point rows are read by an index range scan from it (their primary
    key's order), and only the chunks that reach past it are unnested and sorted.
    `max_results=None` means everything.
    """
    position = _decode_history_token(page_token) if page_token else None
    params: list[object] = [run.pk, key, *(position or ())]
    after = "" if position is None else _AFTER
    sql = _HISTORY_SQL
    chunk_after = chunk_bound = ""
    if connection.vendor == "postgresql":
        sql = _PG_HISTORY_SQL
        params += [run.pk, key]
        if position is not None:
            chunk_after = _CHUNK_AFTER
            params += [position[0], *position]
        if max_results is not None:
            chunk_bound = _CHUNK_BOUND
            # Timestamps are never negative (validated at ingest).
            params += [run.pk, key, -1 if position is None else position[0], max_results + 1]
    limit = ""
    if max_results is not None:
        limit = " LIMIT %s"
        params.append(max_results + 1)
    with connection.cursor() as cursor:
        statement = sql.format(
            after=after, chunk_after=chunk_after, chunk_bound=chunk_bound, limit=limit
        )
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    if max_results is not None and len(rows) > max_results:
        rows = rows[:max_results]
        return rows, _encode_history_token(rows[-1])
    return rows, None
