"""Min/max downsampling: bounded output, every spike kept, ends kept."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments.downsampling import MinMaxBuckets, downsample_minmax


def test_short_series_is_returned_whole_and_sorted() -> None:
    result = downsample_minmax([3, 1, 2], [30.0, 10.0, 20.0], max_points=10)
    assert result.x.tolist() == [1, 2, 3]
    assert result.y.tolist() == [10.0, 20.0, 30.0]
    assert not result.sampled


def test_million_points_become_a_few_thousand_and_every_spike_survives() -> None:
    # given: noise around 0 with isolated one-point spikes
    rng = np.random.default_rng(1)
    x = np.arange(1_000_000)
    y = rng.normal(0, 0.01, len(x))
    spikes = {12_345: 50.0, 500_000: -40.0, 777_777: 99.0, 999_998: 7.0}
    for step, value in spikes.items():
        y[step] = value
    # when
    result = downsample_minmax(x, y, max_points=2000)
    # then
    assert result.sampled
    assert len(result.x) <= 2000
    kept = dict(zip(result.x.tolist(), result.y.tolist(), strict=True))
    for step, value in spikes.items():
        assert kept[step] == value
    assert (result.x[0], result.y[0]) == (0, y[0])
    assert (result.x[-1], result.y[-1]) == (999_999, y[-1])
    assert np.all(np.diff(result.x) >= 0)


def test_each_bucket_keeps_its_min_and_max() -> None:
    x = np.arange(100)
    y = np.sin(x)
    result = downsample_minmax(x, y, max_points=22)  # 10 buckets of 10
    for bucket in range(10):
        inside = slice(bucket * 10, bucket * 10 + 10)
        kept = result.y[(result.x >= bucket * 10) & (result.x < bucket * 10 + 10)]
        assert y[inside].min() in kept
        assert y[inside].max() in kept


def test_nan_points_are_gaps_and_infinities_are_kept() -> None:
    x = np.arange(10_000)
    y = np.zeros(len(x))
    y[10] = math.nan
    y[5000] = math.inf
    result = downsample_minmax(x, y, max_points=100)
    assert not np.isnan(result.y).any()
    assert math.inf in result.y.tolist()


def test_chunks_give_the_same_result_as_one_pass() -> None:
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(0, 1000, 50_000))
    y = rng.normal(size=len(x))
    whole = MinMaxBuckets(x_lo=x[0], x_hi=x[-1], buckets=100)
    whole.add(x, y)
    chunked = MinMaxBuckets(x_lo=x[0], x_hi=x[-1], buckets=100)
    for start in range(0, len(x), 7_000):
        chunked.add(x[start : start + 7_000], y[start : start + 7_000])
    assert whole.result().x.tolist() == chunked.result().x.tolist()
    assert whole.result().y.tolist() == chunked.result().y.tolist()


def test_constant_x_and_empty_input() -> None:
    same_step = downsample_minmax(np.zeros(1000), np.arange(1000.0), max_points=10)
    assert same_step.y.min() == 0
    assert same_step.y.max() == 999
    empty = downsample_minmax([], [], max_points=10)
    assert len(empty.x) == 0
    assert not empty.sampled
    with pytest.raises(ValueError, match="at least 4"):
        downsample_minmax([1], [1], max_points=2)
