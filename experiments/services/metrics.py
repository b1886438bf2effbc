"""Bulk ingest of metric points: one statement per table, whatever the batch size.

A large batch of new points is stored on PostgreSQL as one MetricChunk row per key (arrays of
its points); other points as Metric rows, inserted so that a replayed batch stores nothing
twice (the primary key, and a check against the chunks). The latest value per key is upserted
in the same transaction, only where the new point is newer by (step, timestamp, value) as
MLflow defines it. The points that were actually new are folded into the metric rollups
(min/max summaries per bucket of steps that charts read).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import orjson
from django.db import IntegrityError, connection

from experiments.models import LatestMetric, Metric, MetricChunk, MetricRollup
from experiments.models.runs import ROLLUP_LEVELS
from experiments.prepared import PreparedStatement


class MetricRow(NamedTuple):
    """A metric point as stored: NaN is value 0.0 with is_nan set."""

    key: str
    timestamp: int
    step: int
    value: float
    is_nan: bool


@dataclass(frozen=True)
class MetricColumns:
    """Metric points as stored, column by column: a log-batch of a thousand points reaches the
    database as five arrays, and a tuple per point would cost more than storing it."""

    keys: Sequence[str]
    timestamps: Sequence[int]
    steps: Sequence[int]
    values: Sequence[float]
    nans: Sequence[bool]

    @classmethod
    def of(cls, rows: Sequence[MetricRow]) -> MetricColumns:
        if not rows:
            return cls([], [], [], [], [])
        keys, timestamps, steps, values, nans = zip(*rows, strict=True)
        return cls(keys, timestamps, steps, values, nans)

    def __len__(self) -> int:
        return len(self.keys)

    def rows(self) -> list[MetricRow]:
        return list(map(MetricRow, self.keys, self.timestamps, self.steps, self.values, self.nans))

    def latest_per_key(self) -> MetricColumns:
        """latest_per_key of these points, without a tuple per point."""
        best: dict[str, tuple[int, int, float, int]] = {}
        get = best.get
        for index, key, step, timestamp, value in zip(
            range(len(self.keys)), self.keys, self.steps, self.timestamps, self.values, strict=True
        ):
            current = get(key)
            if current is None or (step, timestamp, value) > current[:3]:
                best[key] = (step, timestamp, value, index)
        return MetricColumns.of(
            [
                MetricRow(key, timestamp, step, value, self.nans[index])
                for key, (step, timestamp, value, index) in sorted(best.items())
            ]
        )


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

# The run's id as a statement parameter (or, in statements of run_log_*_at_once, the run that
# an earlier statement of the transaction held, see chunks_statement).
_RUN = "%s::bigint"
_PG_ROWS_OF = (
    "SELECT {run}, * FROM unnest(%s::varchar[], %s::bigint[], %s::bigint[], "
    "%s::float8[], %s::boolean[])"
)
_PG_ROWS = _PG_ROWS_OF.format(run=_RUN)
_CHUNK_TABLE = MetricChunk._meta.db_table
_BATCH = (
    "SELECT %s::bigint AS run_id, * FROM unnest(%s::varchar[], %s::bigint[], %s::bigint[], "
    "%s::float8[], %s::boolean[]) AS u(key, timestamp, step, value, is_nan)"
)
# Whether point `b` is stored in a chunk. Chunks of a key do not overlap, so only the one
# starting last at or before the point's step can hold it, at the position of that step.
_IN_CHUNKS = (
    "EXISTS (SELECT 1 FROM (SELECT c.steps, c.timestamps, c.values, c.nans "
    f"FROM {_CHUNK_TABLE} AS c WHERE c.run_id = b.run_id AND c.key = b.key "
    "AND c.step_lo <= b.step ORDER BY c.step_lo DESC LIMIT 1) AS c "
    "CROSS JOIN LATERAL array_position(c.steps, b.step) AS i "
    "WHERE c.timestamps[i] = b.timestamp AND c.values[i] = b.value AND c.nans[i] = b.is_nan)"
)
_PG_INSERT_HISTORY = PreparedStatement(
    f"INSERT INTO {_METRIC_TABLE} (run_id, key, timestamp, step, value, is_nan) "
    f"SELECT * FROM ({_BATCH}) AS b WHERE NOT {_IN_CHUNKS} "
    "ON CONFLICT DO NOTHING RETURNING key, timestamp, step, value, is_nan"
)
# The common case, a batch of new points: a plain insert, which costs a fifth less than
# ON CONFLICT and returns nothing. Under a savepoint (see metrics_insert), so that a batch
# holding points already stored (a replay) can fall back to _PG_INSERT_HISTORY; the latest
# values and the rollups (which then come from all the points) go in the same round trip.
# A point already stored in a chunk is inserted twice, so that it fails the insert with a
# unique violation exactly as a point stored as a row does.
_PG_INSERT_NEW = PreparedStatement(
    f"WITH b AS ({_BATCH}) "
    f"INSERT INTO {_METRIC_TABLE} (run_id, key, timestamp, step, value, is_nan) "
    f"SELECT * FROM b UNION ALL SELECT * FROM b WHERE {_IN_CHUNKS}"
)
_PG_UPSERT_LATEST = PreparedStatement(
    f"INSERT INTO {_LATEST_TABLE} (run_id, key, timestamp, step, value, is_nan) {_PG_ROWS} "
    f"{_UPSERT_TAIL}"
)
_SQLITE_INSERT_HISTORY = (
    f"INSERT OR IGNORE INTO {_METRIC_TABLE} (run_id, key, timestamp, step, value, is_nan) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)
_SQLITE_UPSERT_LATEST = (
    f"INSERT INTO {_LATEST_TABLE} (run_id, key, timestamp, step, value, is_nan) "
    f"VALUES (%s, %s, %s, %s, %s, %s) {_UPSERT_TAIL}"
)


def _keys_literal(keys: Sequence[str]) -> str:
    """An array literal of text. Keys pass validate_key (no quote or backslash), checked
    again here once per distinct key because a broken literal would be a broken query."""
    if any('"' in key or "\\" in key for key in set(keys)):
        keys = [key.replace("\\", "\\\\").replace('"', '\\"') for key in keys]
    return '{"' + '","'.join(keys) + '"}'


def _numbers_literal(numbers: Sequence[float]) -> str:
    """An array literal of numbers (ints or floats), written by orjson: twenty times faster
    than repr() for a thousand floats, and as exact (the shortest text that reads back as the
    same double). orjson writes infinities as null; those batches, and anything else it does
    not take (an int past 64 bits), go through repr(), which writes inf and -inf as PostgreSQL
    reads them. NaN is never sent (it is stored as 0 with is_nan set)."""
    try:
        text = orjson.dumps(numbers)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        text = b"n"
    if b"n" in text:
        return "{" + ",".join(map(repr, numbers)) + "}"
    return "{" + text[1:-1].decode() + "}"


def _array_literal(numbers: np.ndarray) -> str:
    """_numbers_literal of a numpy array of int64 or float64, written by orjson straight from
    the array (the same text as from its list, without a Python object per number)."""
    try:
        text = orjson.dumps(numbers, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:  # not contiguous
        text = b"n"
    if b"n" in text:  # an infinity, written as null
        return _numbers_literal(numbers.tolist())
    return "{" + text[1:-1].decode() + "}"


def _booleans_literal(flags: Sequence[bool]) -> str:
    if not any(flags):
        return "{" + ",".join(["f"] * len(flags)) + "}"
    return "{" + ",".join("t" if flag else "f" for flag in flags) + "}"


def _columns(run_pk: int, columns: MetricColumns) -> list[object]:
    return [run_pk, *_literals(columns)]


def _literals(columns: MetricColumns) -> list[object]:
    """The points as five PostgreSQL array literals.

    Passing each column as one text parameter costs a fraction of psycopg2 adapting thousands
    of Python values one by one, which otherwise dominates the request.
    """
    return [
        _keys_literal(columns.keys),
        _numbers_literal(columns.timestamps),
        _numbers_literal(columns.steps),
        _numbers_literal(columns.values),
        _booleans_literal(columns.nans),
    ]


def metrics_insert(*, run_pk: int, rows: Sequence[MetricRow] | MetricColumns) -> None:
    """Insert history and refresh latest values. Call inside a transaction that holds the run
    (run_lock_for_ingest): on PostgreSQL, whether a batch is new is decided from what is
    stored, and writers of one run must take turns for that to hold.

    On PostgreSQL a batch of new points takes one round trip.
    """
    if not rows:
        return
    columns = rows if isinstance(rows, MetricColumns) else MetricColumns.of(rows)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            chunks = _large_batch_chunks(columns)
            # The chunks' sort serves the summaries too: a fifth of a millisecond per batch.
            rollups = _rollups(columns) if chunks is None else chunks.rollups()
            if chunks is None or not _chunks_insert(cursor, run_pk, chunks, rollups):
                _points_insert(cursor, run_pk, columns, rollups)
            return
        inserted = []
        for row in columns.rows():
            # One statement per row: rowcount tells which points were new (no RETURNING with
            # OR IGNORE before SQLite 3.35), and SQLite runs in-process anyway.
            cursor.execute(_SQLITE_INSERT_HISTORY, (run_pk, *row))
            if cursor.rowcount == 1:
                inserted.append(row)
        latest = columns.latest_per_key().rows()
        cursor.executemany(_SQLITE_UPSERT_LATEST, [(run_pk, *row) for row in latest])
        rollups_upsert(cursor, run_pk=run_pk, rollups=_rollups(MetricColumns.of(inserted)))


def _chunks_insert(
    cursor: Any,
    run_pk: int,
    chunks: _Chunks,
    rollups: RollupColumns | dict[tuple[str, int, int], Rollup],
) -> bool:
    """Store a batch as chunks if none of its points is stored already (one round trip);
    returns whether it did."""
    literals = rollup_literals(rollups)
    statement = _PG_INSERT_CHUNKS[bool(literals)]
    cursor.execute(statement.sql(cursor), chunks_params(run_pk, chunks, literals))
    return bool(cursor.fetchone()[0])


def chunks_params(run_pk: int | None, chunks: _Chunks, rollups: list[object]) -> list[object]:
    """The parameters of chunks_statement for these chunks and their rollups (as
    rollup_literals gives them); `run_pk` None for a statement that reads its run from
    `run_sql`."""
    run = [] if run_pk is None else [run_pk]
    return [
        *chunks.extents(),
        *run,
        *run,
        *chunks.arrays(),
        *run,
        *_literals(chunks.latest),
        *((*run, *rollups) if rollups else ()),
    ]


def chunked(columns: MetricColumns) -> tuple[_Chunks, list[object]] | None:
    """The batch as chunks with its rollups (as rollup_literals gives them), where it is
    stored as chunks if none of its points is stored already; None where it is stored as
    point rows (see _large_batch_chunks and _chunks)."""
    chunks = _large_batch_chunks(columns)
    if chunks is None:
        return None
    return chunks, rollup_literals(chunks.rollups())


def _points_insert(
    cursor: Any,
    run_pk: int,
    columns: MetricColumns,
    rollups: RollupColumns | dict[tuple[str, int, int], Rollup],
) -> None:
    """Store a batch as Metric rows (PostgreSQL), each point once: one round trip when all of
    them are new, four when some were stored already (a replay)."""
    latest_statement = (_PG_UPSERT_LATEST.sql(cursor), _columns(run_pk, columns.latest_per_key()))
    literals = _columns(run_pk, columns)
    insert_new = (
        f"SAVEPOINT metrics_insert; {_PG_INSERT_NEW.sql(cursor)}; RELEASE SAVEPOINT metrics_insert"
    )
    try:
        _execute(
            cursor,
            [(insert_new, literals), latest_statement, _rollups_statement(cursor, run_pk, rollups)],
        )
    except IntegrityError:
        # Some points were stored already: store the others, summarise only those.
        cursor.execute("ROLLBACK TO SAVEPOINT metrics_insert")
        cursor.execute(_PG_INSERT_HISTORY.sql(cursor), literals)
        inserted = [MetricRow(*row) for row in cursor.fetchall()]
        _execute(
            cursor,
            [
                latest_statement,
                _rollups_statement(cursor, run_pk, _rollups(MetricColumns.of(inserted))),
            ],
        )


def _execute(cursor: Any, statements: Sequence[tuple[str, list[object]] | None]) -> None:
    """Send statements in one round trip (None: nothing to send in that place)."""
    sent = [statement for statement in statements if statement is not None]
    cursor.execute(
        "; ".join(sql for sql, _ in sent), [param for _, params in sent for param in params]
    )


# A batch is stored as chunks from this many points, with at least CHUNK_POINTS_PER_KEY per
# key on average: smaller chunks would cost more than the point rows they replace.
CHUNKED_FROM = 256
CHUNK_POINTS_PER_KEY = 16


def _large_batch_chunks(columns: MetricColumns) -> _Chunks | None:
    """_chunks of a batch large enough to be stored as chunks; None for any other batch."""
    if len(columns) < CHUNKED_FROM:
        return None
    names = set(columns.keys)
    if len(columns) < CHUNK_POINTS_PER_KEY * len(names):
        return None
    return _chunks(columns, names)


@dataclass(frozen=True)
class _Chunks:
    """A batch as one chunk per key: the points sorted by (key, step), and per key (sorted)
    the 1-based bounds of its slice and its extent."""

    keys: list[str]
    first: list[int]
    last: list[int]
    step_lo: list[int]
    step_hi: list[int]
    timestamp_lo: list[int]
    timestamp_hi: list[int]

    # The newest point of each key: its last, as a key's steps are distinct.
    latest: MetricColumns
    # The points in that order as numpy arrays: key ranks (indexes into keys), steps,
    # timestamps, values and NaN flags.
    sorted_points: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]

    def rollups(self) -> RollupColumns:
        """rollup_columns of these points, from their sort (a key's steps are distinct, so
        (key, step) order is (key, step, timestamp) order)."""
        ranks, steps, timestamps, values, nans = self.sorted_points
        if nans.any():
            real = ~nans
            ranks, steps, timestamps, values = (
                ranks[real],
                steps[real],
                timestamps[real],
                values[real],
            )
        return _sorted_rollup_columns(self.keys, ranks, steps, timestamps, values)

    def extents(self) -> list[str]:
        numbers = (
            self.first,
            self.last,
            self.step_lo,
            self.step_hi,
            self.timestamp_lo,
            self.timestamp_hi,
        )
        return [_keys_literal(self.keys), *map(_numbers_literal, numbers)]

    def arrays(self) -> list[str]:
        _ranks, steps, timestamps, values, nans = self.sorted_points
        return [
            _array_literal(steps),
            _array_literal(timestamps),
            _array_literal(values),
            _booleans_literal(nans.tolist()),
        ]


def _chunks(columns: MetricColumns, distinct: set[str] | None = None) -> _Chunks | None:
    """The batch as one chunk per key, or None if a key has two points at one step (they
    could be one point logged twice, which only point rows store once). `distinct`: its
    keys, where the caller has them."""
    names = sorted(set(columns.keys) if distinct is None else distinct)
    rank_of = {name: rank for rank, name in enumerate(names)}
    ranks = np.fromiter(map(rank_of.__getitem__, columns.keys), np.int64, len(columns))
    steps = np.array(columns.steps, dtype=np.int64)
    order = np.lexsort((steps, ranks))
    ranks, steps = ranks[order], steps[order]
    same_key = ranks[1:] == ranks[:-1]
    if (same_key & (steps[1:] == steps[:-1])).any():
        return None
    starts = _run_starts(~same_key)
    ends = np.append(starts[1:], len(ranks)) - 1
    timestamps = np.array(columns.timestamps, dtype=np.int64)[order]
    values = np.array(columns.values, dtype=np.float64)[order]
    nans = np.array(columns.nans, dtype=bool)[order]
    step_hi = steps[ends].tolist()
    return _Chunks(
        keys=names,
        first=(starts + 1).tolist(),
        last=(ends + 1).tolist(),
        step_lo=steps[starts].tolist(),
        step_hi=step_hi,
        timestamp_lo=np.minimum.reduceat(timestamps, starts).tolist(),
        timestamp_hi=np.maximum.reduceat(timestamps, starts).tolist(),
        latest=MetricColumns(
            names, timestamps[ends].tolist(), step_hi, values[ends].tolist(), nans[ends].tolist()
        ),
        sorted_points=(ranks, steps, timestamps, values, nans),
    )


class Rollup(NamedTuple):
    """The summary of one bucket of a series (see MetricRollup)."""

    count: int
    step_lo: int
    step_hi: int
    timestamp_lo: int
    timestamp_hi: int
    min_value: float
    min_step: int
    min_timestamp: int
    max_value: float
    max_step: int
    max_timestamp: int
    first_value: float
    first_timestamp: int
    last_value: float
    last_timestamp: int


def rollup_point(row: MetricRow) -> Rollup:
    v, s, t = row.value, row.step, row.timestamp
    return Rollup(1, s, s, t, t, v, s, t, v, s, t, v, t, v, t)


def rollup_merge(a: Rollup, b: Rollup) -> Rollup:
    """The summary of two buckets' points together; ties keep `a` (the database does the same)."""
    low = b if b.min_value < a.min_value else a
    high = b if b.max_value > a.max_value else a
    first = b if (b.step_lo, b.first_timestamp) < (a.step_lo, a.first_timestamp) else a
    last = b if (b.step_hi, b.last_timestamp) > (a.step_hi, a.last_timestamp) else a
    return Rollup(
        a.count + b.count,
        min(a.step_lo, b.step_lo),
        max(a.step_hi, b.step_hi),
        min(a.timestamp_lo, b.timestamp_lo),
        max(a.timestamp_hi, b.timestamp_hi),
        low.min_value,
        low.min_step,
        low.min_timestamp,
        high.max_value,
        high.max_step,
        high.max_timestamp,
        first.first_value,
        first.first_timestamp,
        last.last_value,
        last.last_timestamp,
    )


# A level is summarised for a key only where its buckets hold about this many points or more.
DENSE_ENOUGH = 4


def _finest_useful_level(count: int, step_lo: int, step_hi: int) -> int:
    """The finest level whose buckets would hold DENSE_ENOUGH of a key's `count` points
    (steps step_lo..step_hi) on average.

    A level with about one point per bucket costs as much as the points themselves at ingest
    and saves a chart nothing, so sparse series (eval metrics every 100 steps, say) skip it.
    Charts notice a level that misses points by its counts and read a coarser one.
    """
    needed = DENSE_ENOUGH * (step_hi - step_lo + 1) / count
    for level in ROLLUP_LEVELS:
        if (1 << level) >= needed:
            return level
    return ROLLUP_LEVELS[-1]


@dataclass(frozen=True)
class RollupColumns:
    """Summaries per (key, level, bucket), sorted by that triple, column by column: the
    rollup table's columns after run_id, in order (key, level, bucket, *Rollup._fields)."""

    columns: list[list[Any]]

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def as_dict(self) -> dict[tuple[str, int, int], Rollup]:
        return {
            (key, level, bucket): Rollup(*rest)
            for key, level, bucket, *rest in zip(*self.columns, strict=True)
        }


def _run_starts(changed: np.ndarray) -> np.ndarray:
    """The indexes where runs of equal rows start, given whether each row differs from the
    one before it (`changed[i]`: row i + 1 from row i). np.concatenate, not np.r_: a tenth of
    the overhead, which at a thousand points is all the cost."""
    return np.flatnonzero(np.concatenate(([True], changed)))


def _first_where(flags: np.ndarray, positions: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per group (rows starts[i] .. starts[i+1]-1), the index of its first row with flag set
    (every group has one); `positions` is np.arange(len(flags))."""
    return np.minimum.reduceat(np.where(flags, positions, len(flags)), starts)


def rollup_columns(columns: MetricColumns) -> RollupColumns:
    """Summaries of the points per (key, level, bucket); NaN points are skipped.

    Each key gets every level from its finest useful one up (see _finest_useful_level). The
    points are sorted once by (key, step, timestamp); then each level's buckets are runs of
    that order, summarised with numpy a level at a time: a thousand points take about 0.45 ms,
    where rollups_of took about 1.1 ms with its tuples.
    Among tied points (equal extreme values, or equal step and timestamp) any may be kept, as
    when the database merges summaries (rollup_merge).
    """
    real = ~np.array(columns.nans, dtype=bool)
    names = sorted(set(columns.keys))
    rank_of = {name: rank for rank, name in enumerate(names)}
    ranks = np.array([rank_of[key] for key in columns.keys], dtype=np.int64)[real]
    steps = np.array(columns.steps, dtype=np.int64)[real]
    timestamps = np.array(columns.timestamps, dtype=np.int64)[real]
    values = np.array(columns.values, dtype=np.float64)[real]
    order = np.lexsort((timestamps, steps, ranks))
    return _sorted_rollup_columns(
        names, ranks[order], steps[order], timestamps[order], values[order]
    )


_LEVELS = np.array(ROLLUP_LEVELS, dtype=np.int64)


def _sorted_rollup_columns(
    names: Sequence[str],
    ranks: np.ndarray,
    steps: np.ndarray,
    timestamps: np.ndarray,
    values: np.ndarray,
) -> RollupColumns:
    """rollup_columns of points without NaN, sorted by (key rank, step, timestamp); a rank is
    an index into `names`."""
    if not len(ranks):
        return RollupColumns([])
    key_starts = _run_starts(ranks[1:] != ranks[:-1])
    key_ends = np.append(key_starts[1:], len(ranks))
    # Spans in Python integers: the steps of one key may be 2**64 apart.
    first_levels = np.array(
        [
            _finest_useful_level(int(end - start), int(steps[start]), int(steps[end - 1]))
            for start, end in zip(key_starts, key_ends, strict=True)
        ],
        dtype=np.int64,
    )
    # Every level in one pass: the points repeated once per level (levels in order), each copy
    # kept where its key summarises that level. The copies are in (level, key, bucket) order,
    # so each bucket of each level is a run of them. A level at a time, the same work took four
    # times the numpy calls, and at a thousand points the calls are the cost: py-spy put it at
    # a tenth of a log-batch worker's time, about four times what it takes in a loop.
    count = len(ranks)
    levels = np.repeat(_LEVELS, count)
    keep = levels >= np.tile(np.repeat(first_levels, key_ends - key_starts), len(_LEVELS))
    points = np.tile(np.arange(count), len(_LEVELS))[keep]
    levels = levels[keep]
    r, s, t, v = ranks[points], steps[points], timestamps[points], values[points]
    buckets = s >> levels
    starts = _run_starts(
        (levels[1:] != levels[:-1]) | (r[1:] != r[:-1]) | (buckets[1:] != buckets[:-1])
    )
    stops = np.append(starts[1:], len(r))
    ends = stops - 1
    group = np.repeat(np.arange(len(starts)), stops - starts)
    low = np.minimum.reduceat(v, starts)
    high = np.maximum.reduceat(v, starts)
    positions = np.arange(len(v))
    at_low = _first_where(v == low[group], positions, starts)
    at_high = _first_where(v == high[group], positions, starts)
    columns = [
        r[starts],
        levels[starts],
        buckets[starts],
        ends - starts + 1,
        s[starts],
        s[ends],
        np.minimum.reduceat(t, starts),
        np.maximum.reduceat(t, starts),
        low,
        s[at_low],
        t[at_low],
        high,
        s[at_high],
        t[at_high],
        v[starts],
        t[starts],
        v[ends],
        t[ends],
    ]
    # A stable sort by key gives (key, level, bucket) order.
    order = np.argsort(columns[0], kind="stable")
    result = [column[order].tolist() for column in columns]
    result[0] = [names[rank] for rank in result[0]]
    return RollupColumns(result)


def _summary(points: list[MetricRow]) -> Rollup:
    """The summary of a bucket's points, in one pass. Ties keep the earlier point, as
    rollup_merge does (min() and max() would too)."""
    first = last = low = high = points[0]
    timestamp_lo = timestamp_hi = first.timestamp
    for point in points[1:]:
        value, step, timestamp = point.value, point.step, point.timestamp
        if value < low.value:
            low = point
        if value > high.value:
            high = point
        if (step, timestamp) < (first.step, first.timestamp):
            first = point
        if (step, timestamp) > (last.step, last.timestamp):
            last = point
        if timestamp < timestamp_lo:
            timestamp_lo = timestamp
        elif timestamp > timestamp_hi:
            timestamp_hi = timestamp
    return Rollup(
        len(points),
        first.step,
        last.step,
        timestamp_lo,
        timestamp_hi,
        low.value,
        low.step,
        low.timestamp,
        high.value,
        high.step,
        high.timestamp,
        first.value,
        first.timestamp,
        last.value,
        last.timestamp,
    )


# From about this many points, numpy's per-call overhead pays for itself (measured crossover:
# 250 points, 0.2 ms).
VECTORISED_FROM = 256


def _rollups(columns: MetricColumns) -> RollupColumns | dict[tuple[str, int, int], Rollup]:
    if len(columns) >= VECTORISED_FROM:
        return rollup_columns(columns)
    return rollups_of(columns.rows())


def rollups_of(rows: Iterable[MetricRow]) -> dict[tuple[str, int, int], Rollup]:
    """Summaries of rows per (key, level, bucket); NaN rows are skipped.

    Each key gets every level from its finest useful one up (see _finest_useful_level), each
    merged from the one below (buckets are aligned), so the work is close to one pass. A loop
    in Python: for the few points of a log_metric call it takes microseconds, where
    rollup_columns (numpy, for large batches) pays a fifth of a millisecond of overhead.
    """
    by_key: dict[str, list[MetricRow]] = {}
    for row in rows:
        if not row.is_nan:
            by_key.setdefault(row.key, []).append(row)
    result: dict[tuple[str, int, int], Rollup] = {}
    for key, points in by_key.items():
        steps = [point.step for point in points]
        first_level = _finest_useful_level(len(points), min(steps), max(steps))
        members: dict[int, list[MetricRow]] = {}
        for point in points:
            members.setdefault(point.step >> first_level, []).append(point)
        current = {bucket: _summary(group) for bucket, group in members.items()}
        previous_level = first_level
        for level in ROLLUP_LEVELS:
            if level < first_level:
                continue
            if level != first_level:
                coarser: dict[int, Rollup] = {}
                for bucket, rollup in sorted(current.items()):
                    slot = bucket >> (level - previous_level)
                    existing = coarser.get(slot)
                    coarser[slot] = rollup if existing is None else rollup_merge(existing, rollup)
                current, previous_level = coarser, level
            for bucket, rollup in current.items():
                result[(key, level, bucket)] = rollup
    return result


_ROLLUP_TABLE = MetricRollup._meta.db_table
_ROLLUP_COLUMNS = ("run_id", "key", "level", "bucket", *Rollup._fields)
_R = _ROLLUP_TABLE
# Merges a new summary into the stored one exactly as rollup_merge does (SET expressions see
# the stored row's old values).
_ROLLUP_MERGE = f"""ON CONFLICT (run_id, key, level, bucket) DO UPDATE SET
    count = {_R}.count + excluded.count,
    step_lo = CASE WHEN excluded.step_lo < {_R}.step_lo THEN excluded.step_lo ELSE {_R}.step_lo END,
    step_hi = CASE WHEN excluded.step_hi > {_R}.step_hi THEN excluded.step_hi ELSE {_R}.step_hi END,
    timestamp_lo = CASE WHEN excluded.timestamp_lo < {_R}.timestamp_lo
        THEN excluded.timestamp_lo ELSE {_R}.timestamp_lo END,
    timestamp_hi = CASE WHEN excluded.timestamp_hi > {_R}.timestamp_hi
        THEN excluded.timestamp_hi ELSE {_R}.timestamp_hi END,
    min_value = CASE WHEN excluded.min_value < {_R}.min_value
        THEN excluded.min_value ELSE {_R}.min_value END,
    min_step = CASE WHEN excluded.min_value < {_R}.min_value
        THEN excluded.min_step ELSE {_R}.min_step END,
    min_timestamp = CASE WHEN excluded.min_value < {_R}.min_value
        THEN excluded.min_timestamp ELSE {_R}.min_timestamp END,
    max_value = CASE WHEN excluded.max_value > {_R}.max_value
        THEN excluded.max_value ELSE {_R}.max_value END,
    max_step = CASE WHEN excluded.max_value > {_R}.max_value
        THEN excluded.max_step ELSE {_R}.max_step END,
    max_timestamp = CASE WHEN excluded.max_value > {_R}.max_value
        THEN excluded.max_timestamp ELSE {_R}.max_timestamp END,
    first_value = CASE WHEN (excluded.step_lo, excluded.first_timestamp)
        < ({_R}.step_lo, {_R}.first_timestamp) THEN excluded.first_value ELSE {_R}.first_value END,
    first_timestamp = CASE WHEN (excluded.step_lo, excluded.first_timestamp)
        < ({_R}.step_lo, {_R}.first_timestamp)
        THEN excluded.first_timestamp ELSE {_R}.first_timestamp END,
    last_value = CASE WHEN (excluded.step_hi, excluded.last_timestamp)
        > ({_R}.step_hi, {_R}.last_timestamp) THEN excluded.last_value ELSE {_R}.last_value END,
    last_timestamp = CASE WHEN (excluded.step_hi, excluded.last_timestamp)
        > ({_R}.step_hi, {_R}.last_timestamp)
        THEN excluded.last_timestamp ELSE {_R}.last_timestamp END"""
_PG_ROLLUP_TYPES = (
    "varchar", "smallint", "bigint", "bigint", "bigint", "bigint", "bigint", "bigint",
    "float8", "bigint", "bigint", "float8", "bigint", "bigint", "float8", "bigint", "float8",
    "bigint",
)  # fmt: skip
_PG_ROLLUP_ROWS_OF = (
    "SELECT {run}, * FROM unnest(" + ", ".join(f"%s::{kind}[]" for kind in _PG_ROLLUP_TYPES) + ")"
)
_PG_ROLLUP_ROWS = _PG_ROLLUP_ROWS_OF.format(run=_RUN)
_PG_UPSERT_ROLLUPS = PreparedStatement(
    f"INSERT INTO {_R} ({', '.join(_ROLLUP_COLUMNS)}) {_PG_ROLLUP_ROWS} {_ROLLUP_MERGE}"
)


def chunks_statement(*, with_rollups: bool, run_sql: str | None = None) -> PreparedStatement:
    """A batch as chunks, with its latest values and rollups, in one statement that stores
    nothing unless every key's first step in the batch is past the latest step stored for it
    (then none of its points can be stored already: the latest value is the point with the
    highest step). It returns whether it stored the batch.

    Every part of a statement reads the same snapshot, taken after the run was held, so the
    check sees what other writers of the run committed, and not the latest values that this
    statement writes. The points come as flat arrays sorted by (key, step), and per key (sorted)
    the 1-based bounds of its slice and its extent (chunks_params).

    The run is a parameter, or with `run_sql` the run that query finds (its one column is
    run_id; no row: nothing is stored, and the statement returns false), which an earlier
    statement of the transaction must have held.
    """
    run = _RUN if run_sql is None else "(SELECT run_id FROM held)"
    new = "(SELECT new FROM ok)"
    parts = [] if run_sql is None else [f"held AS ({run_sql})"]
    parts += [
        "u AS (SELECT * FROM unnest(%s::varchar[], %s::int[], %s::int[], %s::bigint[], "
        "%s::bigint[], %s::bigint[], %s::bigint[]) AS u(key, first, last, step_lo, step_hi, "
        "timestamp_lo, timestamp_hi))",
        "ok AS (SELECT "
        + ("" if run_sql is None else "EXISTS (SELECT 1 FROM held) AND ")
        + f"NOT EXISTS (SELECT 1 FROM {_LATEST_TABLE} AS l JOIN u ON l.key = u.key "
        f"WHERE l.run_id = {run} AND l.step >= u.step_lo) AS new)",
        f"chunks AS (INSERT INTO {_CHUNK_TABLE} (run_id, key, step_lo, step_hi, timestamp_lo, "
        "timestamp_hi, count, steps, timestamps, values, nans) "
        f"SELECT {run}, u.key, u.step_lo, u.step_hi, u.timestamp_lo, u.timestamp_hi, "
        "u.last - u.first + 1, a.s[u.first:u.last], a.t[u.first:u.last], a.v[u.first:u.last], "
        "a.n[u.first:u.last] FROM (SELECT %s::bigint[] AS s, %s::bigint[] AS t, "
        f"%s::float8[] AS v, %s::boolean[] AS n) AS a CROSS JOIN u WHERE {new})",
        f"latest AS (INSERT INTO {_LATEST_TABLE} (run_id, key, timestamp, step, value, is_nan) "
        f"{_PG_ROWS_OF.format(run=run)} WHERE {new} {_UPSERT_TAIL})",
    ]
    if with_rollups:
        parts.append(
            f"rollups AS (INSERT INTO {_R} ({', '.join(_ROLLUP_COLUMNS)}) "
            f"{_PG_ROLLUP_ROWS_OF.format(run=run)} WHERE {new} {_ROLLUP_MERGE})"
        )
    return PreparedStatement("WITH " + ", ".join(parts) + " SELECT new FROM ok")


_PG_INSERT_CHUNKS = {
    with_rollups: chunks_statement(with_rollups=with_rollups) for with_rollups in (True, False)
}


# The rollups of one point: a bucket of its own at every level from the finest a lone point
# gets (_finest_useful_level), each summary the point itself (rollup_point). points_statement
# derives them in SQL from the points (of distinct keys, so no two share a bucket): sent as
# arrays instead, they made a log-metric's message take about a third longer (0.94-1.05 ms
# against 1.23-1.44 in process, on the Xeon host).
_POINT_LEVELS = [level for level in ROLLUP_LEVELS if level >= _finest_useful_level(1, 0, 0)]
_POINT_ROLLUP = rollup_point(MetricRow("b.key", "b.timestamp", "b.step", "b.value", False))  # type: ignore[arg-type]


def points_statement(run_sql: str, *, one: bool = False) -> PreparedStatement:
    """Metric points of distinct keys (the metrics of one step that mlflow.log_metrics sends),
    with their latest values and rollups, for the run that `run_sql` finds (a query whose one
    column is run_id; no row: nothing is stored), in one statement that returns how many runs
    it found. Each point is stored unless it is stored already, as a row or in a chunk; its
    rollups (none for NaN) only if it was stored.

    Parameters: run_sql's, then the points as points_params gives them, or with `one` the
    point's fields (key, timestamp, step, value, is_nan): a log-metric's statement, whose
    point is known to be one, which PostgreSQL plans better (0.43 against 0.55 ms in process).
    Its reads of what is stored see a snapshot taken when the statement starts, so the run
    must be held before it starts (by an earlier statement of the transaction), as for
    metrics_insert.
    """
    levels = "{" + ",".join(map(str, _POINT_LEVELS)) + "}"
    summary = ", ".join(map(str, _POINT_ROLLUP))
    if one:
        points = (
            "SELECT held.run_id, %s::varchar AS key, %s::bigint AS timestamp, "
            "%s::bigint AS step, %s::float8 AS value, %s::boolean AS is_nan FROM held"
        )
    else:
        points = (
            "SELECT held.run_id, u.* FROM held CROSS JOIN unnest(%s::varchar[], %s::bigint[], "
            "%s::bigint[], %s::float8[], %s::boolean[]) AS u(key, timestamp, step, value, is_nan)"
        )
    return PreparedStatement(
        f"WITH held AS ({run_sql}), b AS ({points}), "
        f"ins AS (INSERT INTO {_METRIC_TABLE} (run_id, key, timestamp, step, value, is_nan) "
        f"SELECT * FROM b WHERE NOT {_IN_CHUNKS} ON CONFLICT DO NOTHING RETURNING key), "
        f"latest AS (INSERT INTO {_LATEST_TABLE} (run_id, key, timestamp, step, value, is_nan) "
        f"SELECT * FROM b {_UPSERT_TAIL}), "
        f"rollups AS (INSERT INTO {_R} ({', '.join(_ROLLUP_COLUMNS)}) "
        f"SELECT b.run_id, b.key, l.level, b.step >> l.level, {summary} "
        f"FROM b JOIN ins ON ins.key = b.key CROSS JOIN unnest('{levels}'::smallint[]) AS l(level) "
        f"WHERE NOT b.is_nan {_ROLLUP_MERGE}) "
        "SELECT count(*) FROM held"
    )


def points_params(columns: MetricColumns) -> list[object]:
    """The points' parameters of points_statement."""
    return _literals(columns)


def rollup_literals(rollups: RollupColumns | dict[tuple[str, int, int], Rollup]) -> list[object]:
    """Summaries as the array parameters of _PG_ROLLUP_ROWS (after the run id); none for none."""
    columns = _rollup_table_columns(rollups).columns
    if not columns:
        return []
    return [_keys_literal(columns[0]), *(_numbers_literal(column) for column in columns[1:])]


_SQLITE_UPSERT_ROLLUPS = (
    f"INSERT INTO {_R} ({', '.join(_ROLLUP_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(_ROLLUP_COLUMNS))}) {_ROLLUP_MERGE}"
)


def _rollup_table_columns(
    rollups: RollupColumns | dict[tuple[str, int, int], Rollup],
) -> RollupColumns:
    if isinstance(rollups, RollupColumns):
        return rollups
    # Sorted by primary key: concurrent writers to one run lock rows in the same order
    # (RollupColumns are sorted already).
    rows = [(*slot, *rollup) for slot, rollup in sorted(rollups.items())]
    return RollupColumns([list(column) for column in zip(*rows, strict=True)])


def _rollups_statement(
    cursor: Any, run_pk: int, rollups: RollupColumns | dict[tuple[str, int, int], Rollup]
) -> tuple[str, list[object]] | None:
    """The PostgreSQL upsert of these summaries, or None when there are none."""
    literals = rollup_literals(rollups)
    if not literals:
        return None
    return _PG_UPSERT_ROLLUPS.sql(cursor), [run_pk, *literals]


def rollups_upsert(
    cursor: Any,
    *,
    run_pk: int,
    rollups: RollupColumns | dict[tuple[str, int, int], Rollup],
) -> None:
    """Fold summaries of newly stored points into the run's rollups (one statement)."""
    columns = _rollup_table_columns(rollups).columns
    if connection.vendor == "postgresql":
        if statement := _rollups_statement(cursor, run_pk, rollups):
            cursor.execute(*statement)
    elif columns:
        cursor.executemany(
            _SQLITE_UPSERT_ROLLUPS, [(run_pk, *row) for row in zip(*columns, strict=True)]
        )
