"""Metric series for charts, bounded in size whatever the length of the stored history.

A series that fits the point budget is read as stored. A longer one is read from its rollups
(min/max summaries per bucket of 2**level steps, kept at ingest): the finest level with at
most _MERGE_FACTOR summaries per wanted bucket (max_points/2 of them) is read and merged down
to the wanted buckets, each keeping its lowest and highest point, so spikes survive, plus the
first and last points. Reading 20 series of 100,000 points this way reads 62,500 summary rows
instead of 2,000,000 points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from io import BytesIO
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import connections
from django.db.models import Max, Min, Q, QuerySet, Sum

from experiments.downsampling import MinMaxBuckets
from experiments.models import MetricHistory, MetricRollup, Run
from experiments.models.runs import ROLLUP_LEVELS

STREAM_CHUNK = 20_000


class XAxis(StrEnum):
    STEP = "step"
    TIME = "time"
    RELATIVE = "relative"

    @property
    def by_time(self) -> bool:
        return self is not XAxis.STEP


@dataclass(frozen=True)
class Series:
    """Points of one run's metric sorted by x: the step, or the timestamp (ms) on time axes."""

    run_pk: int
    x: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    # Points stored (NaN points excluded); `sampled` when fewer were returned.
    count: int
    sampled: bool

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class _Extent:
    count: int
    step_lo: int
    step_hi: int
    timestamp_lo: int
    timestamp_hi: int


def _sorted_series(
    run_pk: int, x: npt.NDArray[np.int64], values: npt.NDArray[np.float64], count: int
) -> Series:
    order = np.lexsort((values, x))
    x, values = x[order], values[order]
    # A bucket holding one point reports it as both its min and its max.
    keep = np.ones(len(x), dtype=bool)
    keep[1:] = (x[1:] != x[:-1]) | (values[1:] != values[:-1])
    x, values = x[keep], values[keep]
    return Series(run_pk, x, values, count, sampled=len(x) < count)


# Read at most this many stored summaries per wanted bucket, and merge them in numpy.
_MERGE_FACTOR = 8


def _level_for(extent: _Extent, buckets: int) -> int:
    """The finest rollup level with at most _MERGE_FACTOR summaries per wanted bucket."""
    for level in ROLLUP_LEVELS:
        if (extent.step_hi >> level) - (extent.step_lo >> level) + 1 <= buckets * _MERGE_FACTOR:
            return level
    return ROLLUP_LEVELS[-1]


def _shift_for(extent: _Extent, level: int, buckets: int) -> int:
    """How many bits of the bucket number to drop so that at most `buckets` buckets remain."""
    shift = 0
    while (extent.step_hi >> (level + shift)) - (extent.step_lo >> (level + shift)) + 1 > buckets:
        shift += 1
    return shift


def _merged(
    bucket: npt.NDArray[np.int64],
    value: npt.NDArray[np.float64],
    x: npt.NDArray[np.float64],
    shift: int,
    lowest: bool,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The lowest (or highest) value and its x in each group of 2**shift adjacent buckets."""
    if shift == 0:
        return x, value
    group = np.right_shift(bucket, shift)
    order = np.lexsort((x, value if lowest else -value, group))
    _, first = np.unique(group[order], return_index=True)
    chosen = order[first]
    return x[chosen], value[chosen]


def _streamed_by_time(run_pk: int, key: str, extent: _Extent, max_points: int) -> Series:
    """Min/max per bucket of time over the stored points, read in bounded chunks.

    For series whose steps do not advance (every point logged at step 0, say), where step
    rollups cannot tell points apart in time.
    """
    buckets = MinMaxBuckets(
        x_lo=extent.timestamp_lo, x_hi=extent.timestamp_hi, buckets=max(1, (max_points - 2) // 2)
    )
    rows = (
        MetricHistory.objects.filter(run_id=run_pk, key=key, is_nan=False)
        .order_by("timestamp", "step")
        .values_list("timestamp", "value")
        .iterator(chunk_size=STREAM_CHUNK)
    )
    chunk: list[tuple[int, float]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= STREAM_CHUNK:
            array = np.array(chunk, dtype=np.float64)
            buckets.add(array[:, 0], array[:, 1])
            chunk.clear()
    if chunk:
        array = np.array(chunk, dtype=np.float64)
        buckets.add(array[:, 0], array[:, 1])
    kept = buckets.result()
    return _sorted_series(run_pk, kept.x.astype(np.int64), kept.y, extent.count)


# PostgreSQL's binary COPY: a signature, flags and a header extension, then per row a field
# count and each field's length and bytes, then a trailer of -1.
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _numbers(queryset: QuerySet[Any], *fields: str) -> npt.NDArray[np.float64]:
    """`fields` of the queryset's rows (numeric, never NULL) as an array of shape (rows, fields).

    On PostgreSQL the rows arrive by binary COPY as float8: a chart reads tens of thousands of
    summary rows, and turning each number into text on the server, then into a Python object
    here, cost several times the query (62,500 rollup rows: about 210 ms, against 90 ms by
    COPY, of which the query is 22 ms).
    """
    rows = queryset.order_by().values_list(*fields)
    connection = connections[rows.db]
    if connection.vendor != "postgresql":
        return np.array(list(rows), dtype=np.float64).reshape(-1, len(fields))
    sql, params = rows.query.sql_with_params()
    names = [f"c{index}" for index in range(len(fields))]
    select = ", ".join(f"{name}::float8" for name in names)
    copy = f"COPY (SELECT {select} FROM ({sql}) AS q({', '.join(names)})) TO STDOUT (FORMAT binary)"
    buffer = BytesIO()
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.copy_expert(cursor.mogrify(copy, params).decode(), buffer)
    return _binary_copy_rows(buffer.getbuffer(), len(fields))


def _binary_copy_rows(data: memoryview, width: int) -> npt.NDArray[np.float64]:
    """The float8 fields of a binary COPY, each row `width` fields of 8 bytes."""
    if bytes(data[:11]) != _COPY_SIGNATURE:
        raise ValueError("not a binary COPY stream")
    extension = int.from_bytes(data[15:19], "big")
    layout = [("fields", ">i2")]
    for index in range(width):
        layout += [(f"length{index}", ">i4"), (f"value{index}", ">f8")]
    records = np.frombuffer(data[19 + extension : -2], dtype=np.dtype(layout))
    lengths_ok = all((records[f"length{index}"] == 8).all() for index in range(width))
    if not lengths_ok or (records["fields"] != width).any():
        raise ValueError("a binary COPY row is not all float8 (a NULL?)")
    array = np.empty((len(records), width), dtype=np.float64)
    for index in range(width):
        array[:, index] = records[f"value{index}"]
    return array


def _grouped(array: npt.NDArray[np.float64]) -> dict[int, npt.NDArray[np.float64]]:
    """Rows of (run pk, numbers...) as one float array per run (steps and ms times fit)."""
    if not len(array):
        return {}
    runs = array[:, 0].astype(np.int64)
    order = np.argsort(runs, kind="stable")
    array, runs = array[order], runs[order]
    starts = np.flatnonzero(np.r_[True, runs[1:] != runs[:-1]])
    ends = np.r_[starts[1:], len(runs)]
    return {int(runs[a]): array[a:b, 1:] for a, b in zip(starts, ends, strict=True)}


def metric_series(
    *, runs: Sequence[Run], key: str, x_axis: XAxis = XAxis.STEP, max_points: int = 2000
) -> dict[int, Series]:
    """Each run's series of `key` with at most about `max_points` points, by run pk.

    Runs without points of `key` are left out. The number of queries does not depend on the
    number of runs or points (at most four). Values are read as numpy arrays: converting
    20,000 rows of a dozen columns into Python objects cost more than the query.
    """
    pks = [run.pk for run in runs]
    extents = {
        row["run_id"]: _Extent(
            row["points"], row["step_lo"], row["step_hi"], row["ts_lo"], row["ts_hi"]
        )
        for row in MetricRollup.objects.filter(run_id__in=pks, key=key, level=ROLLUP_LEVELS[-1])
        .values("run_id")
        .annotate(
            points=Sum("count"),
            step_lo=Min("step_lo"),
            step_hi=Max("step_hi"),
            ts_lo=Min("timestamp_lo"),
            ts_hi=Max("timestamp_hi"),
        )
        .order_by()
    }
    by_time = x_axis.by_time
    x_field = "timestamp" if by_time else "step"
    whole = [pk for pk, extent in extents.items() if extent.count <= max_points]
    result: dict[int, Series] = {}
    if whole:
        rows = _numbers(
            MetricHistory.objects.filter(run_id__in=whole, key=key, is_nan=False),
            "run_id",
            x_field,
            "value",
        )
        for run_pk, array in _grouped(rows).items():
            result[run_pk] = _sorted_series(
                run_pk, array[:, 0].astype(np.int64), array[:, 1], extents[run_pk].count
            )

    buckets = max(1, (max_points - 2) // 2)
    levels = {pk: _level_for(extent, buckets) for pk, extent in extents.items() if pk not in result}
    if not levels:
        return result
    kind = "timestamp" if by_time else "step"
    summaries: dict[int, npt.NDArray[np.float64]] = {}
    pending = dict(levels)
    while pending:
        chosen = Q()
        for level in set(pending.values()):
            chosen |= Q(level=level, run_id__in=[pk for pk, lv in pending.items() if lv == level])
        fetched = _grouped(
            _numbers(
                MetricRollup.objects.filter(chosen, key=key),
                "run_id",
                "min_value",
                f"min_{kind}",
                "max_value",
                f"max_{kind}",
                "bucket",
                "count",
            )
        )
        retry: dict[int, int] = {}
        for pk, level in pending.items():
            array = fetched.get(pk)
            # Ingest skips levels too fine for a sparse batch: a level that misses points
            # shows it in its counts, and the next coarser one is read instead.
            if array is not None and int(array[:, 5].sum()) == extents[pk].count:
                summaries[pk] = array
            elif level != ROLLUP_LEVELS[-1]:
                retry[pk] = ROLLUP_LEVELS[ROLLUP_LEVELS.index(level) + 1]
                levels[pk] = retry[pk]
        pending = retry
    ends = Q()
    for pk, level in levels.items():
        extent = extents[pk]
        ends |= Q(
            run_id=pk, level=level, bucket__in=[extent.step_lo >> level, extent.step_hi >> level]
        )
    first_x, last_x = ("first_timestamp", "last_timestamp") if by_time else ("step_lo", "step_hi")
    boundaries = _grouped(
        _numbers(
            MetricRollup.objects.filter(ends, key=key),
            "run_id",
            "step_lo",
            "step_hi",
            "first_value",
            first_x,
            "last_value",
            last_x,
        )
    )
    for run_pk, array in summaries.items():
        extent = extents[run_pk]
        if by_time and len(array) * 8 < buckets:
            result[run_pk] = _streamed_by_time(run_pk, key, extent, max_points)
            continue
        shift = _shift_for(extent, levels[run_pk], buckets)
        bucket = array[:, 4].astype(np.int64)
        low_x, low = _merged(bucket, array[:, 0], array[:, 1], shift, lowest=True)
        high_x, high = _merged(bucket, array[:, 2], array[:, 3], shift, lowest=False)
        xs = [low_x, high_x]
        ys = [low, high]
        for step_lo, step_hi, first_value, first, last_value, last in boundaries.get(run_pk, []):
            if step_lo == extent.step_lo:
                xs.append(np.array([first]))
                ys.append(np.array([first_value]))
            if step_hi == extent.step_hi:
                xs.append(np.array([last]))
                ys.append(np.array([last_value]))
        result[run_pk] = _sorted_series(
            run_pk, np.concatenate(xs).astype(np.int64), np.concatenate(ys), extent.count
        )
    return result
