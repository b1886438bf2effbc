"""Metric series for charts, bounded in size whatever the length of the stored history.

A series that fits the point budget is read as stored. A longer one is read from its rollups
(min/max summaries per bucket of 2**level steps, kept at ingest): the finest level with at
most max_points/2 buckets gives each bucket's lowest and highest point, so spikes survive,
plus the first and last points. Reading 20 series of 100,000 points this way reads about
20,000 summary rows instead of 2,000,000 points.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from django.db.models import Max, Min, Q, Sum

from experiments.downsampling import MinMaxBuckets
from experiments.models import Metric, MetricRollup, Run
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
    """Points of one run's metric, sorted along the chosen x axis."""

    run_pk: int
    steps: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.int64]
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


def _series(run_pk: int, points: list[tuple[int, int, float]], x_axis: XAxis, count: int) -> Series:
    unique = set(points)
    order = (lambda p: (p[1], p[0], p[2])) if x_axis.by_time else (lambda p: p)
    ordered = sorted(unique, key=order)
    return Series(
        run_pk=run_pk,
        steps=np.array([p[0] for p in ordered], dtype=np.int64),
        timestamps=np.array([p[1] for p in ordered], dtype=np.int64),
        values=np.array([p[2] for p in ordered], dtype=np.float64),
        count=count,
        sampled=len(ordered) < count,
    )


def _level_for(extent: _Extent, buckets: int) -> int:
    """The finest rollup level that splits the step range into at most `buckets` buckets."""
    for level in ROLLUP_LEVELS:
        if (extent.step_hi >> level) - (extent.step_lo >> level) + 1 <= buckets:
            return level
    return ROLLUP_LEVELS[-1]


def _streamed_by_time(run_pk: int, key: str, extent: _Extent, max_points: int) -> Series:
    """Min/max per bucket of time over the stored points, read in bounded chunks.

    For series whose steps do not advance (every point logged at step 0, say), where step
    rollups cannot tell points apart in time.
    """
    buckets = MinMaxBuckets(
        x_lo=extent.timestamp_lo, x_hi=extent.timestamp_hi, buckets=max(1, (max_points - 2) // 2)
    )
    step_at: dict[float, int] = {}
    rows = (
        Metric.objects.filter(run_id=run_pk, key=key, is_nan=False)
        .order_by("timestamp", "step")
        .values_list("timestamp", "step", "value")
        .iterator(chunk_size=STREAM_CHUNK)
    )
    chunk: list[tuple[int, int, float]] = []

    def flush() -> None:
        array = np.array(chunk, dtype=np.float64).reshape(-1, 3)
        buckets.add(array[:, 0], array[:, 2])
        for timestamp, step, _ in chunk:
            step_at.setdefault(float(timestamp), step)
        chunk.clear()

    for row in rows:
        chunk.append(row)
        if len(chunk) >= STREAM_CHUNK:
            flush()
    if chunk:
        flush()
    kept = buckets.result()
    points = [
        (step_at.get(float(t), 0), int(t), float(v))
        for t, v in zip(kept.x.tolist(), kept.y.tolist(), strict=True)
    ]
    return _series(run_pk, points, XAxis.TIME, extent.count)


def metric_series(
    *, runs: Sequence[Run], key: str, x_axis: XAxis = XAxis.STEP, max_points: int = 2000
) -> dict[int, Series]:
    """Each run's series of `key` with at most about `max_points` points, by run pk.

    Runs without points of `key` are left out. The number of queries does not depend on the
    number of runs or points (one per rollup level in use, plus two).
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
    whole = [pk for pk, extent in extents.items() if extent.count <= max_points]
    result: dict[int, Series] = {}
    if whole:
        points: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
        for run_pk, step, timestamp, value in (
            Metric.objects.filter(run_id__in=whole, key=key, is_nan=False)
            .order_by()
            .values_list("run_id", "step", "timestamp", "value")
        ):
            points[run_pk].append((step, timestamp, value))
        for run_pk in whole:
            result[run_pk] = _series(run_pk, points[run_pk], x_axis, extents[run_pk].count)

    buckets = max(1, (max_points - 2) // 2)
    by_level: dict[int, list[int]] = defaultdict(list)
    for pk, extent in extents.items():
        if pk not in result:
            by_level[_level_for(extent, buckets)].append(pk)
    if not by_level:
        return result
    condition = Q()
    for level, level_pks in by_level.items():
        condition |= Q(level=level, run_id__in=level_pks)
    rollups: dict[int, list[tuple[int, ...]]] = defaultdict(list)
    for row in (
        MetricRollup.objects.filter(condition, key=key)
        .order_by()
        .values_list(
            "run_id",
            "step_lo",
            "step_hi",
            "min_value",
            "min_step",
            "min_timestamp",
            "max_value",
            "max_step",
            "max_timestamp",
            "first_value",
            "first_timestamp",
            "last_value",
            "last_timestamp",
        )
    ):
        rollups[row[0]].append(row[1:])
    for run_pk, rows in rollups.items():
        extent = extents[run_pk]
        if x_axis.by_time and len(rows) * 8 < buckets:
            result[run_pk] = _streamed_by_time(run_pk, key, extent, max_points)
            continue
        kept: list[tuple[int, int, float]] = []
        for step_lo, step_hi, low, low_step, low_ts, high, high_step, high_ts, *ends in rows:
            kept.append((low_step, low_ts, low))
            kept.append((high_step, high_ts, high))
            first_value, first_ts, last_value, last_ts = ends
            if step_lo == extent.step_lo:
                kept.append((step_lo, first_ts, first_value))
            if step_hi == extent.step_hi:
                kept.append((step_hi, last_ts, last_value))
        result[run_pk] = _series(run_pk, kept, x_axis, extent.count)
    return result
