"""Downsampling of long series for line charts: min and max per bucket, so spikes survive.

A chart a thousand pixels wide cannot show a million points; drawing, per bucket of the x
range, the lowest and the highest point keeps every spike and dip visible (the line passes
through both), where picking every n-th point would drop them. The first and last points are
kept so the line spans the whole range. Pure functions over numpy arrays, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Downsampled:
    """Points sorted by x; `sampled` tells whether points were dropped."""

    x: FloatArray
    y: FloatArray
    sampled: bool


class MinMaxBuckets:
    """Min and max point per equal-width bucket of [x_lo, x_hi], fed in chunks.

    Feeding a million points in chunks keeps memory bounded by the chunk and bucket count.
    Ties keep the point seen first.
    """

    def __init__(self, *, x_lo: float, x_hi: float, buckets: int) -> None:
        if buckets < 1:
            raise ValueError("buckets must be at least 1")
        self.x_lo = float(x_lo)
        self.span = max(float(x_hi) - float(x_lo), 0.0)
        self.buckets = buckets
        self.min_y = np.full(buckets, np.inf)
        self.min_x = np.full(buckets, np.nan)
        self.max_y = np.full(buckets, -np.inf)
        self.max_x = np.full(buckets, np.nan)
        self.seen = np.zeros(buckets, dtype=bool)
        self.count = 0
        self.first: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None

    def _bucket_of(self, x: FloatArray) -> npt.NDArray[np.int64]:
        if self.span == 0:
            return np.zeros(len(x), dtype=np.int64)
        index = np.floor((x - self.x_lo) * (self.buckets / self.span)).astype(np.int64)
        return np.clip(index, 0, self.buckets - 1)

    def add(self, x: npt.ArrayLike, y: npt.ArrayLike) -> None:
        """Add points (in any order; x ties keep the earliest for first/last)."""
        xs = np.asarray(x, dtype=np.float64)
        ys = np.asarray(y, dtype=np.float64)
        keep = ~np.isnan(ys)
        xs, ys = xs[keep], ys[keep]
        if len(xs) == 0:
            return
        self.count += len(xs)
        lo, hi = int(np.argmin(xs)), int(np.argmax(xs[::-1]))
        hi = len(xs) - 1 - hi
        if self.first is None or xs[lo] < self.first[0]:
            self.first = (float(xs[lo]), float(ys[lo]))
        if self.last is None or xs[hi] >= self.last[0]:
            self.last = (float(xs[hi]), float(ys[hi]))
        buckets = self._bucket_of(xs)
        # Within each bucket, the first row of a stable sort by (bucket, y) is the minimum
        # and the last row the maximum.
        order = np.lexsort((ys, buckets))
        sorted_buckets = buckets[order]
        starts = np.flatnonzero(np.r_[True, sorted_buckets[1:] != sorted_buckets[:-1]])
        ends = np.r_[starts[1:], len(order)] - 1
        ids = sorted_buckets[starts]
        low, high = order[starts], order[ends]
        better_low = ys[low] < self.min_y[ids]
        self.min_y[ids[better_low]] = ys[low[better_low]]
        self.min_x[ids[better_low]] = xs[low[better_low]]
        better_high = ys[high] > self.max_y[ids]
        self.max_y[ids[better_high]] = ys[high[better_high]]
        self.max_x[ids[better_high]] = xs[high[better_high]]
        # A bucket whose points all equal +inf or -inf still has a point.
        fresh = ~self.seen[ids]
        for target_x, target_y, source in (
            (self.min_x, self.min_y, low),
            (self.max_x, self.max_y, high),
        ):
            unset = fresh & np.isnan(target_x[ids])
            target_x[ids[unset]] = xs[source[unset]]
            target_y[ids[unset]] = ys[source[unset]]
        self.seen[ids] = True

    def result(self) -> Downsampled:
        """The kept points sorted by x: first, each bucket's min and max, last."""
        if self.count == 0 or self.first is None or self.last is None:
            return Downsampled(np.empty(0), np.empty(0), sampled=False)
        xs = np.concatenate(
            ([self.first[0]], self.min_x[self.seen], self.max_x[self.seen], [self.last[0]])
        )
        ys = np.concatenate(
            ([self.first[1]], self.min_y[self.seen], self.max_y[self.seen], [self.last[1]])
        )
        points = np.unique(np.stack([xs, ys], axis=1), axis=0)
        order = np.lexsort((points[:, 1], points[:, 0]))
        points = points[order]
        return Downsampled(points[:, 0], points[:, 1], sampled=len(points) < self.count)


def downsample_minmax(x: npt.ArrayLike, y: npt.ArrayLike, max_points: int) -> Downsampled:
    """At most `max_points` points of a series: its first and last points and, per bucket of
    the x range, the lowest and highest point. Series that fit are returned whole (NaN points,
    which charts leave as gaps, are dropped).
    """
    if max_points < 4:
        raise ValueError("max_points must be at least 4")
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    keep = ~np.isnan(ys)
    xs, ys = xs[keep], ys[keep]
    if len(xs) <= max_points:
        order = np.argsort(xs, kind="stable")
        return Downsampled(xs[order], ys[order], sampled=False)
    buckets = MinMaxBuckets(x_lo=xs.min(), x_hi=xs.max(), buckets=(max_points - 2) // 2)
    buckets.add(xs, ys)
    return buckets.result()
