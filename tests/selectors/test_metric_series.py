"""Metric series for charts: whole when short, bounded and spike-preserving when long."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.models import Run
from experiments.selectors.metrics import XAxis, metric_series
from experiments.services.runs import MetricPoint, run_log_batch
from tests.factories import make_experiment, make_run, make_workspace

pytestmark = pytest.mark.django_db(transaction=True)
T0 = 1_700_000_000_000


def log(run: Run, points: list[MetricPoint]) -> None:
    for start in range(0, len(points), 1000):
        run_log_batch(run=run, metrics=points[start : start + 1000])


def test_short_series_come_whole_in_step_order() -> None:
    run = make_run(make_experiment(make_workspace()))
    log(run, [MetricPoint("loss", 1.0 / (s + 1), T0 + s, s) for s in reversed(range(50))])
    log(run, [MetricPoint("loss", float("nan"), T0 + 99, 99)])
    series = metric_series(runs=[run], keys=["loss"], max_points=100)["loss"][run.pk]
    assert series.x.tolist() == list(range(50))
    assert series.values[0] == 1.0
    assert not series.sampled
    assert series.count == 50


def test_long_series_are_bounded_and_keep_spikes_and_ends() -> None:
    # given: 30,000 points with spikes up and down
    run = make_run(make_experiment(make_workspace()))
    rng = np.random.default_rng(5)
    values = rng.normal(0, 0.1, 30_000)
    values[12_345], values[29_000] = 40.0, -30.0
    log(run, [MetricPoint("loss", float(v), T0 + s * 10, s) for s, v in enumerate(values)])
    # when
    series = metric_series(runs=[run], keys=["loss"], max_points=1000)["loss"][run.pk]
    # then
    assert series.sampled
    assert series.count == 30_000
    assert len(series) <= 1000
    kept = dict(zip(series.x.tolist(), series.values.tolist(), strict=True))
    assert kept[12_345] == 40.0
    assert kept[29_000] == -30.0
    assert kept[0] == values[0]
    assert kept[29_999] == values[-1]
    assert np.all(np.diff(series.x) >= 0)


def test_time_axis_of_a_series_logged_at_one_step_is_read_by_time() -> None:
    # given: every point at step 0 (log_metric without a step), a spike in the middle
    run = make_run(make_experiment(make_workspace()))
    points = [MetricPoint("gpu", 1.0, T0 + i * 1000, 0) for i in range(5000)]
    points[2500] = MetricPoint("gpu", 9.0, T0 + 2500 * 1000, 0)
    log(run, points)
    # when
    series = metric_series(runs=[run], keys=["gpu"], x_axis=XAxis.TIME, max_points=400)["gpu"][
        run.pk
    ]
    # then: spread over time, bounded, the spike kept
    assert series.sampled
    assert 100 < len(series) <= 400
    assert 9.0 in series.values.tolist()
    assert series.x[0] == T0
    assert series.x[-1] == T0 + 4999 * 1000
    assert np.all(np.diff(series.x) >= 0)


def test_query_count_does_not_depend_on_runs_keys_or_points(django_assert_num_queries) -> None:  # noqa: ANN001
    experiment = make_experiment(make_workspace())
    runs = [make_run(experiment) for _ in range(4)]
    log(runs[0], [MetricPoint("loss", 1.0, T0 + s, s) for s in range(10)])
    log(runs[1], [MetricPoint("loss", float(s % 5), T0 + s, s) for s in range(3000)])
    log(runs[2], [MetricPoint("loss", float(s % 7), T0 + s, s * 100) for s in range(3000)])
    log(runs[2], [MetricPoint("acc", float(s % 3), T0 + s, s * 7) for s in range(2000)])
    log(runs[3], [MetricPoint("acc", 0.5, T0 + s, s) for s in range(20)])
    # summary, whole series, summaries of all levels in use, first and last points
    with django_assert_num_queries(4):
        series = metric_series(runs=runs, keys=["loss", "acc", "none"], max_points=500)
    assert sorted(series["loss"]) == sorted(run.pk for run in runs[:3])
    assert sorted(series["acc"]) == [runs[2].pk, runs[3].pk]
    assert series["none"] == {}
    assert all(len(s) <= 500 for by_run in series.values() for s in by_run.values())


def test_each_key_gets_its_own_series() -> None:
    """Several keys read at once give each run's own points of each key, whole or sampled,
    and the same as each key read alone."""
    experiment = make_experiment(make_workspace())
    runs = [make_run(experiment) for _ in range(3)]
    rng = np.random.default_rng(3)
    logged: dict[tuple[str, int], tuple[list[int], list[float]]] = {}
    for number, run in enumerate(runs):
        for key, length in (("a", 50 + number), ("b", 4000 * (number + 1)), ("c", 700)):
            values = rng.normal(number * 10 + ord(key), 1.0, length)
            steps = [s * (number + 1) for s in range(length)]
            logged[key, run.pk] = (steps, values.tolist())
            log(
                run,
                [
                    MetricPoint(key, float(v), T0 + s * 3, step)
                    for s, (step, v) in enumerate(zip(steps, values, strict=True))
                ],
            )
    together = metric_series(runs=runs, keys=["c", "a", "b"], max_points=800)
    for (key, run_pk), (steps, values) in logged.items():
        series = together[key][run_pk]
        assert series.count == len(values)
        if key != "b":
            assert (series.x.tolist(), series.values.tolist()) == (steps, values)
            continue
        assert series.sampled
        assert len(series) <= 800
        assert min(values) in series.values
        assert max(values) in series.values
        assert (series.x[0], series.x[-1]) == (steps[0], steps[-1])
        assert set(series.values.tolist()) <= set(values)
    for axis in XAxis:
        together = metric_series(runs=runs, keys=["c", "a", "b"], x_axis=axis, max_points=600)
        for key in "abc":
            alone = metric_series(runs=runs, keys=[key], x_axis=axis, max_points=600)[key]
            assert sorted(together[key]) == sorted(alone) == sorted(run.pk for run in runs)
            for run_pk, series in alone.items():
                assert together[key][run_pk].x.tolist() == series.x.tolist()
                assert together[key][run_pk].values.tolist() == series.values.tolist()
                assert together[key][run_pk].count == series.count


def test_keys_are_matched_exactly_whatever_their_characters() -> None:
    run = make_run(make_experiment(make_workspace()))
    keys = ["x:y/z", "a b", "A b", "ä.ü-1_/x", "a  b"]
    for number, key in enumerate(keys):
        log(run, [MetricPoint(key, number * 10.0 + s, T0 + s, s) for s in range(3)])
    series = metric_series(runs=[run], keys=[*reversed(keys), "a b"], max_points=100)
    assert list(series) == list(reversed(keys))
    for number, key in enumerate(keys):
        assert series[key][run.pk].values.tolist() == [number * 10.0 + s for s in range(3)]


def test_a_series_whose_fine_level_misses_sparse_batches_is_read_coarser() -> None:
    # given: dense batches, then a sparse one (every 40 steps) that skips the finest level
    run = make_run(make_experiment(make_workspace()))
    rng = np.random.default_rng(9)
    dense = rng.normal(0, 0.1, 20_000)
    dense[7_777] = 25.0
    log(run, [MetricPoint("loss", float(v), T0 + s, s) for s, v in enumerate(dense)])
    sparse_steps = range(20_000, 60_000, 40)
    sparse = [MetricPoint("loss", 0.5, T0 + s, s) for s in sparse_steps]
    sparse[500] = MetricPoint("loss", -20.0, T0 + sparse_steps[500], sparse_steps[500])
    log(run, sparse)
    # when
    series = metric_series(runs=[run], keys=["loss"], max_points=1000)["loss"][run.pk]
    # then: every point is accounted for and both spikes survive
    assert series.count == 21_000
    assert len(series) <= 1000
    kept = dict(zip(series.x.tolist(), series.values.tolist(), strict=True))
    assert kept[7_777] == 25.0
    assert kept[sparse_steps[500]] == -20.0
    assert kept[59_960] == 0.5


def test_numbers_read_exactly_what_is_stored() -> None:
    """Rows read as arrays (by binary COPY on PostgreSQL) equal the ORM's values: infinities,
    extreme floats and large integers included."""
    from experiments.models import Metric
    from experiments.selectors.metrics import _numbers

    run = make_run(make_experiment(make_workspace()))
    values = [float("inf"), float("-inf"), -0.0, 5e-324, 1.7976931348623157e308, 1 / 3]
    log(run, [MetricPoint("m", v, T0 + i, 2**52 + i) for i, v in enumerate(values)])
    rows = Metric.objects.filter(run_id=run.pk, key="m").order_by("step")

    array = _numbers(rows, "run_id", "step", "timestamp", "value")
    array = array[np.argsort(array[:, 1])]  # rows come in no particular order

    expected = np.array(list(rows.values_list("run_id", "step", "timestamp", "value")), float)
    assert array.shape == (6, 4)
    assert np.array_equal(array, expected)


def test_an_empty_selection_reads_as_no_rows() -> None:
    from experiments.models import Metric
    from experiments.selectors.metrics import _numbers

    array = _numbers(Metric.objects.filter(run_id=-1), "run_id", "value")
    assert array.shape == (0, 2)
