"""Metric series for charts, bounded in size whatever the length of the stored history.

A series that fits the point budget is read as stored. A longer one is read from its rollups
(min/max summaries per bucket of 2**level steps, kept at ingest): the finest level with at
most _MERGE_FACTOR summaries per wanted bucket (max_points/2 of them) is read and merged down
to the wanted buckets, each keeping its lowest and highest point, so spikes survive, plus the
first and last points. Reading 20 series of 100,000 points this way reads 62,500 summary rows
instead of 2,000,000 points.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
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


def _numbers(
    queryset: QuerySet[Any], *fields: str, keys: Sequence[str] = ()
) -> npt.NDArray[np.float64]:
    """`fields` of the queryset's rows (numeric, never NULL) as an array of shape (rows, fields).

    A field named "key" comes as the position of the row's key in `keys`.

    On PostgreSQL the rows arrive by binary COPY as float8: a chart reads tens of thousands of
    summary rows, and turning each number into text on the server, then into a Python object
    here, cost several times the query (62,500 rollup rows: about 210 ms, against 90 ms by
    COPY, of which the query is 22 ms). Keys become positions by a join with the numbered
    list: a CASE over 30 keys doubled the time of reading 300,000 points (447 against 231 ms).
    """
    rows = queryset.order_by().values_list(*fields)
    connection = connections[rows.db]
    if connection.vendor != "postgresql":
        if "key" in fields:
            at, position = fields.index("key"), {key: index for index, key in enumerate(keys)}
            rows = [(*row[:at], position[row[at]], *row[at + 1 :]) for row in rows]
        return np.array(list(rows), dtype=np.float64).reshape(-1, len(fields))
    sql, params = rows.query.sql_with_params()
    names = [f"c{index}" for index in range(len(fields))]
    select = ", ".join(
        "k.i::float8 - 1" if field == "key" else f"q.{name}::float8"
        for name, field in zip(names, fields, strict=True)
    )
    source = f"({sql}) AS q({', '.join(names)})"
    if "key" in fields:
        source += (
            " JOIN unnest(%s::text[]) WITH ORDINALITY AS k(key, i)"
            f" ON k.key = q.{names[fields.index('key')]}"
        )
        params = (*params, list(keys))
    copy = f"COPY (SELECT {select} FROM {source}) TO STDOUT (FORMAT binary)"
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


# A series: (run pk, index of its key in the keys asked for).
_Pair = tuple[int, int]


def _grouped(array: npt.NDArray[np.float64]) -> dict[_Pair, npt.NDArray[np.float64]]:
    """Rows of (run pk, key index, numbers...) as one float array per series (steps and ms
    times fit)."""
    if not len(array):
        return {}
    ids = array[:, :2].astype(np.int64)
    order = np.lexsort((ids[:, 1], ids[:, 0]))
    array, ids = array[order], ids[order]
    return {(int(ids[a, 0]), int(ids[a, 1])): array[a:b, 2:] for a, b in _spans(ids)}


def _split_series(
    rows: npt.NDArray[np.float64],
) -> Iterator[tuple[_Pair, npt.NDArray[np.int64], npt.NDArray[np.float64]]]:
    """Rows of (run pk, key index, x, value) as each series' points sorted as _sorted_series
    sorts them, with one sort for all series: sorting 15,000 short series one by one cost
    more than reading them."""
    if not len(rows):
        return
    rows = rows[np.lexsort((rows[:, 3], rows[:, 2], rows[:, 1], rows[:, 0]))]
    keep = np.ones(len(rows), dtype=bool)
    keep[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    rows = rows[keep]
    ids = rows[:, :2].astype(np.int64)
    x = rows[:, 2].astype(np.int64)
    values = rows[:, 3].copy()
    for a, b in _spans(ids):
        yield (int(ids[a, 0]), int(ids[a, 1])), x[a:b], values[a:b]


def _spans(ids: npt.NDArray[np.int64]) -> Iterator[tuple[int, int]]:
    """(start, end) of each stretch of equal (run pk, key index) rows in sorted ids."""
    starts = np.flatnonzero(np.r_[True, (ids[1:] != ids[:-1]).any(axis=1)])
    ends = np.r_[starts[1:], len(ids)]
    return zip(starts.tolist(), ends.tolist(), strict=True)


def _series_filter(pairs: Iterable[_Pair], keys: Sequence[str]) -> Q:
    """Rows of these series: one condition per set of runs that share keys (usually one)."""
    runs_by_key: dict[int, list[int]] = defaultdict(list)
    for run_pk, index in pairs:
        runs_by_key[index].append(run_pk)
    keys_by_runs: dict[tuple[int, ...], list[str]] = defaultdict(list)
    for index, run_pks in runs_by_key.items():
        keys_by_runs[tuple(sorted(run_pks))].append(keys[index])
    condition = Q()
    for run_pks, names in keys_by_runs.items():
        condition |= Q(run_id__in=run_pks, key__in=names)
    return condition


def metric_series(
    *,
    runs: Sequence[Run],
    keys: Sequence[str],
    x_axis: XAxis = XAxis.STEP,
    max_points: int = 2000,
) -> dict[str, dict[int, Series]]:
    """Each run's series of each of `keys`, with at most about `max_points` points: by key,
    then by run pk.

    Runs without points of a key are left out of its dict. The number of queries depends on
    neither the number of runs, of keys nor of points (four, plus one per rollup level a
    sparse series falls back to). Values are read as numpy arrays: converting 20,000 rows of a
    dozen columns into Python objects cost more than the query.
    """
    keys = list(dict.fromkeys(keys))
    result: dict[str, dict[int, Series]] = {key: {} for key in keys}
    if not runs or not keys:
        return result
    position = {key: index for index, key in enumerate(keys)}
    # Exact integers, not _numbers' floats: steps may use all 64 bits.
    summed = (
        MetricRollup.objects.filter(
            run_id__in=[run.pk for run in runs], key__in=keys, level=ROLLUP_LEVELS[-1]
        )
        .values("run_id", "key")
        .annotate(
            points=Sum("count"),
            step_lo=Min("step_lo"),
            step_hi=Max("step_hi"),
            ts_lo=Min("timestamp_lo"),
            ts_hi=Max("timestamp_hi"),
        )
        .values_list("run_id", "key", "points", "step_lo", "step_hi", "ts_lo", "ts_hi")
        .order_by()
    )
    extents = {(run_pk, position[key]): _Extent(*numbers) for run_pk, key, *numbers in summed}
    by_time = x_axis.by_time
    x_field = "timestamp" if by_time else "step"
    whole = [pair for pair, extent in extents.items() if extent.count <= max_points]
    if whole:
        rows = _numbers(
            MetricHistory.objects.filter(_series_filter(whole, keys), is_nan=False),
            "run_id",
            "key",
            x_field,
            "value",
            keys=keys,
        )
        for (run_pk, index), x, values in _split_series(rows):
            count = extents[run_pk, index].count
            result[keys[index]][run_pk] = Series(run_pk, x, values, count, len(x) < count)

    buckets = max(1, (max_points - 2) // 2)
    levels = {
        pair: _level_for(extent, buckets)
        for pair, extent in extents.items()
        if extent.count > max_points
    }
    if not levels:
        return result
    kind = "timestamp" if by_time else "step"
    summaries: dict[_Pair, npt.NDArray[np.float64]] = {}
    pending = dict(levels)
    while pending:
        chosen = Q()
        for level in set(pending.values()):
            at_level = [pair for pair, lv in pending.items() if lv == level]
            chosen |= Q(level=level) & _series_filter(at_level, keys)
        fetched = _grouped(
            _numbers(
                MetricRollup.objects.filter(chosen),
                "run_id",
                "key",
                "min_value",
                f"min_{kind}",
                "max_value",
                f"max_{kind}",
                "bucket",
                "count",
                keys=keys,
            )
        )
        retry: dict[_Pair, int] = {}
        for pair, level in pending.items():
            array = fetched.get(pair)
            # Ingest skips levels too fine for a sparse batch: a level that misses points
            # shows it in its counts, and the next coarser one is read instead.
            if array is not None and int(array[:, 5].sum()) == extents[pair].count:
                summaries[pair] = array
            elif level != ROLLUP_LEVELS[-1]:
                retry[pair] = ROLLUP_LEVELS[ROLLUP_LEVELS.index(level) + 1]
                levels[pair] = retry[pair]
        pending = retry
    # The first and last points: in the buckets that hold each series' lowest and highest
    # step. One condition per level asks for every such bucket of the level; a row that is
    # another series' end is told apart by its steps below.
    ends = Q()
    for level in set(levels.values()):
        at_level = [pair for pair, lv in levels.items() if lv == level]
        end_buckets = {
            bucket
            for pair in at_level
            for bucket in (extents[pair].step_lo >> level, extents[pair].step_hi >> level)
        }
        ends |= Q(level=level, bucket__in=sorted(end_buckets)) & _series_filter(at_level, keys)
    first_x, last_x = ("first_timestamp", "last_timestamp") if by_time else ("step_lo", "step_hi")
    boundaries = _grouped(
        _numbers(
            MetricRollup.objects.filter(ends),
            "run_id",
            "key",
            "step_lo",
            "step_hi",
            "first_value",
            first_x,
            "last_value",
            last_x,
            keys=keys,
        )
    )
    for pair, array in summaries.items():
        run_pk, index = pair
        extent = extents[pair]
        if by_time and len(array) * 8 < buckets:
            result[keys[index]][run_pk] = _streamed_by_time(run_pk, keys[index], extent, max_points)
            continue
        shift = _shift_for(extent, levels[pair], buckets)
        bucket = array[:, 4].astype(np.int64)
        low_x, low = _merged(bucket, array[:, 0], array[:, 1], shift, lowest=True)
        high_x, high = _merged(bucket, array[:, 2], array[:, 3], shift, lowest=False)
        xs = [low_x, high_x]
        ys = [low, high]
        for step_lo, step_hi, first_value, first, last_value, last in boundaries.get(pair, []):
            if step_lo == extent.step_lo:
                xs.append(np.array([first]))
                ys.append(np.array([first_value]))
            if step_hi == extent.step_hi:
                xs.append(np.array([last]))
                ys.append(np.array([last_value]))
        result[keys[index]][run_pk] = _sorted_series(
            run_pk, np.concatenate(xs).astype(np.int64), np.concatenate(ys), extent.count
        )
    return result
