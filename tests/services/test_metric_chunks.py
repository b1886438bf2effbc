"""Large batches stored as chunks (PostgreSQL): read like point rows, never stored twice."""

from __future__ import annotations

import math
import random
import threading

import pytest
from django.db import connections

from experiments.models import MetricChunk, MetricHistory, MetricRollup, Run, Workspace
from experiments.selectors.runs import metric_history
from experiments.services.metrics import CHUNKED_FROM
from experiments.services.runs import MetricPoint, run_log_batch
from tests.factories import make_experiment, make_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

T0 = 1_700_000_000_000


def _batch(keys: int, steps: range, seed: int = 0) -> list[MetricPoint]:
    rng = random.Random(seed)
    points = [
        MetricPoint(f"k{key}", rng.uniform(-1, 1), T0 + step, step)
        for key in range(keys)
        for step in steps
    ]
    rng.shuffle(points)  # a client may send them in any order
    return points


def _stored(run: Run) -> list[tuple[str, int, int, float, bool]]:
    return sorted(
        MetricHistory.objects.filter(run_id=run.pk).values_list(
            "key", "timestamp", "step", "value", "is_nan"
        )
    )


def _expected(points: list[MetricPoint]) -> list[tuple[str, int, int, float, bool]]:
    return sorted(
        (p.key, p.timestamp, p.step, 0.0 if math.isnan(p.value) else p.value, math.isnan(p.value))
        for p in points
    )


def _all_pages(run: Run, key: str, size: int) -> list[tuple[float, int, int, bool]]:
    rows, token = [], None
    while True:
        page, token = metric_history(run=run, key=key, max_results=size, page_token=token)
        rows.extend(page)
        if token is None:
            return rows


def test_a_large_batch_of_new_points_is_one_chunk_per_key(workspace: Workspace) -> None:
    run = make_run(make_experiment(workspace))
    points = _batch(4, range(100))
    points[7] = points[7]._replace(value=math.nan)
    points[8] = points[8]._replace(value=math.inf)
    run_log_batch(run=run, metrics=points)
    chunks = MetricChunk.objects.filter(run=run).order_by("key")
    assert [(c.key, c.count, c.step_lo, c.step_hi) for c in chunks] == [
        (f"k{key}", 100, 0, 99) for key in range(4)
    ]
    assert all(c.steps == sorted(c.steps) for c in chunks)
    assert _stored(run) == _expected(points)
    assert run.latest_metrics.get(key="k0").step == 99


def test_small_batches_and_repeated_steps_stay_point_rows(workspace: Workspace) -> None:
    run = make_run(make_experiment(workspace))
    small = _batch(1, range(CHUNKED_FROM - 1))
    # Two values at one step of a key: point rows, which store a point logged twice once.
    repeated = [*_batch(2, range(1000, 1200)), MetricPoint("k0", 5.0, T0, 1100)]
    sparse = [MetricPoint(f"key{i}", 1.0, T0, 2000) for i in range(300)]  # 1 point per key
    for batch in (small, repeated, sparse):
        run_log_batch(run=run, metrics=batch)
    assert not MetricChunk.objects.filter(run=run).exists()
    assert _stored(run) == _expected(small + repeated + sparse)


def test_replays_and_overlaps_store_each_point_once(workspace: Workspace) -> None:
    # given: chunks of steps 100-199 and 300-399
    run = make_run(make_experiment(workspace))
    first, later = _batch(3, range(100, 200), 1), _batch(3, range(300, 400), 2)
    run_log_batch(run=run, metrics=first)
    run_log_batch(run=run, metrics=later)
    assert MetricChunk.objects.filter(run=run).count() == 6
    # when: the first batch is replayed, a batch overlaps both chunks with some points that
    # are stored and some that are not, and single points repeat a chunk's point or differ
    # from it in value only
    overlap = [*first[:50], *later[:50], *_batch(3, range(200, 300), 3)]
    same = first[0]
    other_value = first[1]._replace(value=first[1].value + 1)
    for batch in (first, overlap, [same], [other_value], later):
        run_log_batch(run=run, metrics=batch)
    # then
    everything = first + later + _batch(3, range(200, 300), 3) + [other_value]
    assert _stored(run) == _expected(everything)
    assert run.latest_metrics.get(key="k0").step == 399


@pytest.mark.parametrize("page_size", [7, 250, 25_000])
def test_history_pages_merge_chunks_and_point_rows_in_order(
    workspace: Workspace, page_size: int
) -> None:
    run = make_run(make_experiment(workspace))
    chunked = _batch(1, range(500, 1000))
    # Point rows before, inside (same step, other timestamp and value) and after the chunk.
    points = [
        MetricPoint("k0", 1.0, T0 + 10, 10),
        MetricPoint("k0", 2.0, T0 + 700, 700),
        MetricPoint("k0", math.nan, T0 + 700, 700),
        MetricPoint("k0", 3.0, T0 + 5000, 5000),
    ]
    run_log_batch(run=run, metrics=chunked)
    for point in points:
        run_log_batch(run=run, metrics=[point])
    assert MetricChunk.objects.filter(run=run).count() == 1
    paged = _all_pages(run, "k0", page_size)
    everything, _ = metric_history(run=run, key="k0")
    assert paged == everything
    assert len(paged) == 504
    assert [(ts, step, value) for value, ts, step, _nan in paged] == sorted(
        (ts, step, value) for value, ts, step, _nan in paged
    )


def test_concurrent_replays_of_one_batch_store_it_once(workspace: Workspace) -> None:
    run = make_run(make_experiment(workspace))
    batch = _batch(5, range(200))
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def send() -> None:
        try:
            barrier.wait(timeout=30)
            run_log_batch(run=Run.objects.get(pk=run.pk), metrics=batch)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert _stored(run) == _expected(batch)
    assert MetricChunk.objects.filter(run=run).count() == 5


def test_a_large_batch_of_nan_only_is_a_chunk_without_rollups(workspace: Workspace) -> None:
    run = make_run(make_experiment(workspace))
    points = [MetricPoint("nan", math.nan, T0 + step, step) for step in range(CHUNKED_FROM)]
    run_log_batch(run=run, metrics=points)
    run_log_batch(run=run, metrics=points)  # and its replay
    assert MetricChunk.objects.filter(run=run).count() == 1
    assert _stored(run) == _expected(points)
    assert not MetricRollup.objects.filter(run=run).exists()  # charts skip NaN


@pytest.mark.parametrize("page_size", [1, 13, 100, 299, 1000])
def test_pages_read_only_the_chunks_they_need_and_miss_no_point(
    workspace: Workspace, page_size: int
) -> None:
    """Chunks whose time ranges overlap, run backwards or tie, with point rows among them: a
    page may leave out only chunks that start after the first ones holding a page of points."""
    run = make_run(make_experiment(workspace))
    rng = random.Random(page_size)
    batches = [
        # steps advance batch by batch; timestamps do not: backwards, shuffled, tied, late
        [MetricPoint("k", 1.0, T0 + 1000 - s, s) for s in range(0, 300)],
        [MetricPoint("k", 2.0, T0 + rng.randrange(500, 1500), s) for s in range(300, 600)],
        [MetricPoint("k", 3.0, T0 + 700, s) for s in range(600, 900)],
        [MetricPoint("k", 4.0, T0 + 5000 + s, s) for s in range(900, 1200)],
    ]
    for batch in batches:
        run_log_batch(run=run, metrics=batch)
    rows = [MetricPoint("k", 5.0, T0 + t, 2000 + i) for i, t in enumerate((0, 700, 1000, 9999))]
    for point in rows:
        run_log_batch(run=run, metrics=[point])
    assert MetricChunk.objects.filter(run=run).count() == 4

    paged = _all_pages(run, "k", page_size)

    everything = [p for batch in batches for p in batch] + rows
    assert paged == sorted(
        ((p.value, p.timestamp, p.step, False) for p in everything),
        key=lambda row: (row[1], row[2], row[0]),
    )
