"""Metric rollups: kept at ingest, equal to a summary recomputed from the stored history."""

from __future__ import annotations

import math
import random

import pytest

from experiments.models import MetricHistory, MetricRollup, Run
from experiments.models.runs import ROLLUP_LEVELS
from experiments.services.metrics import (
    MetricColumns,
    MetricRow,
    Rollup,
    _chunks,
    rollup_columns,
    rollup_merge,
    rollup_point,
    rollups_of,
)
from experiments.services.runs import MetricPoint, run_log_batch
from tests.factories import make_experiment, make_run, make_workspace


def stored_rollups(run: Run) -> dict[tuple[str, int, int], Rollup]:
    fields = ("key", "level", "bucket", *Rollup._fields)
    return {
        (key, level, bucket): Rollup(*rest)
        for key, level, bucket, *rest in MetricRollup.objects.filter(run=run).values_list(*fields)
    }


def history(run: Run) -> list[MetricRow]:
    return [
        MetricRow(*row)
        for row in MetricHistory.objects.filter(run_id=run.pk).values_list(
            "key", "timestamp", "step", "value", "is_nan"
        )
    ]


def assert_same_summaries(
    got: dict[tuple[str, int, int], Rollup], expected: dict[tuple[str, int, int], Rollup]
) -> None:
    assert got.keys() == expected.keys()
    for slot, rollup in expected.items():
        stored = got[slot]
        # Points with equal extreme values may be kept in either order of arrival.
        assert stored._replace(min_step=0, min_timestamp=0, max_step=0, max_timestamp=0) == (
            rollup._replace(min_step=0, min_timestamp=0, max_step=0, max_timestamp=0)
        )


def test_rollups_of_summarises_each_level() -> None:
    rows = [MetricRow("loss", 1000 + step, step, float(step % 7), False) for step in range(100)]
    rows.append(MetricRow("loss", 5000, 50, math.nan, True))
    rollups = rollups_of(rows)
    finest = {b: r for (k, level, b), r in rollups.items() if level == ROLLUP_LEVELS[0]}
    assert sorted(finest) == list(range(4))  # steps 0..99 in buckets of 32
    assert finest[0] == Rollup(
        32, 0, 31, 1000, 1031, 0.0, 0, 1000, 6.0, 6, 1006, 0.0, 1000, 3.0, 1031
    )
    coarsest = [r for (k, level, b), r in rollups.items() if level == ROLLUP_LEVELS[-1]]
    # NaN points are gaps in a chart and are left out of the summaries.
    assert coarsest == [
        Rollup(100, 0, 99, 1000, 1099, 0.0, 0, 1000, 6.0, 6, 1006, 0.0, 1000, 1.0, 1099)
    ]


def test_rollups_of_handles_negative_steps_and_infinities() -> None:
    rows = [
        MetricRow("m", 1, -9, 1.0, False),
        MetricRow("m", 2, -1, math.inf, False),
        MetricRow("m", 3, 0, -math.inf, False),
    ]
    finest = {b: r for (k, level, b), r in rollups_of(rows).items() if level == 5}
    assert sorted(finest) == [-1, 0]
    assert finest[-1].max_value == math.inf
    assert finest[0].min_value == -math.inf


@pytest.mark.django_db(transaction=True)
def test_ingest_keeps_rollups_equal_to_the_history_across_batches_and_replays() -> None:
    # given
    run = make_run(make_experiment(make_workspace()))
    rng = random.Random(7)
    batches = []
    for start in range(0, 3000, 1000):
        batch = [
            MetricPoint("loss", rng.uniform(-5, 5), 1_700_000_000_000 + step * 10, step)
            for step in range(start, start + 1000)
        ]
        batches.append(batch)
    # when: batches arrive out of order, one is replayed, one repeats a step with a new value
    for batch in (batches[2], batches[0], batches[1], batches[0]):
        run_log_batch(run=run, metrics=batch)
    run_log_batch(run=run, metrics=[MetricPoint("loss", 99.0, 1_800_000_000_000, 5)])
    run_log_batch(run=run, metrics=[MetricPoint("acc", math.nan, 1, 0)])
    # then
    stored = stored_rollups(run)
    assert_same_summaries(stored, rollups_of(history(run)))
    top = stored[("loss", ROLLUP_LEVELS[-1], 0)]
    assert top.count == 3001
    assert (top.max_value, top.max_step) == (99.0, 5)
    assert not any(key == "acc" for key, _, _ in stored)


def test_sparse_keys_skip_levels_finer_than_their_points() -> None:
    # An eval metric every 100 steps: buckets of 32 steps would hold a point each.
    sparse = [MetricRow("eval", step, step, 1.0, False) for step in range(0, 5000, 100)]
    dense = [MetricRow("loss", step, step, 1.0, False) for step in range(50)]
    levels = {(key, level) for key, level, _bucket in rollups_of(sparse + dense)}
    assert ("loss", ROLLUP_LEVELS[0]) in levels
    assert ("eval", ROLLUP_LEVELS[0]) not in levels
    assert ("eval", ROLLUP_LEVELS[1]) in levels


def _merged_point_by_point(rows: list[MetricRow]) -> dict[tuple[str, int, int], Rollup]:
    """Every level of every key, folded with the database's merge rules (rollup_merge)."""
    merged: dict[tuple[str, int, int], Rollup] = {}
    for row in rows:
        if row.is_nan:
            continue
        for level in ROLLUP_LEVELS:
            slot = (row.key, level, row.step >> level)
            point = rollup_point(row)
            merged[slot] = rollup_merge(merged[slot], point) if slot in merged else point
    return merged


def assert_faithful(
    got: dict[tuple[str, int, int], Rollup],
    expected: dict[tuple[str, int, int], Rollup],
    rows: list[MetricRow],
) -> None:
    """`got` summarises each slot as `expected` (the fold) does. Among tied points (equal
    values, or equal step and timestamp) either may be kept, so the kept point must be one of
    them."""
    points = {(row.key, row.step, row.timestamp, row.value) for row in rows}
    for slot, rollup in got.items():
        key, want = slot[0], expected[slot]
        # Count, step and time extent, the extreme values: exactly the fold's.
        assert rollup[:6] == want[:6]
        assert (rollup.max_value, rollup.first_timestamp, rollup.last_timestamp) == (
            want.max_value,
            want.first_timestamp,
            want.last_timestamp,
        )
        assert (key, rollup.min_step, rollup.min_timestamp, rollup.min_value) in points
        assert (key, rollup.max_step, rollup.max_timestamp, rollup.max_value) in points
        assert (key, rollup.step_lo, rollup.first_timestamp, rollup.first_value) in points
        assert (key, rollup.step_hi, rollup.last_timestamp, rollup.last_value) in points


def test_rollups_of_equals_merging_point_by_point() -> None:
    # The database merges summaries with rollup_merge's rules; the batch fold must agree.
    rng = random.Random(11)
    rows = [
        MetricRow(
            rng.choice("ab"), rng.randrange(5), rng.randrange(40), float(rng.randrange(4)), False
        )
        for _ in range(500)
    ]
    expected = _merged_point_by_point(rows)
    got = rollups_of(rows)
    assert got.keys() == expected.keys()
    assert_faithful(got, expected, rows)


def _from_chunks(rows: list[MetricRow]) -> dict[tuple[str, int, int], Rollup]:
    chunks = _chunks(MetricColumns.of(rows))
    assert chunks is not None
    return chunks.rollups().as_dict()


SUMMARISERS = {
    "loop": rollups_of,
    "numpy": lambda rows: rollup_columns(MetricColumns.of(rows)).as_dict(),
    # A large batch stored as chunks is summarised from their sort (distinct steps per key).
    "chunks": _from_chunks,
}


@pytest.mark.parametrize("summariser", sorted(SUMMARISERS))
@pytest.mark.parametrize("seed", range(8))
def test_rollups_of_mixed_batches_equal_merging_point_by_point(seed: int, summariser: str) -> None:
    """Keys of every density in one batch, in any order, with NaNs, negative and extreme
    steps: each key keeps the levels from its finest useful one up, each equal to the fold.
    Both ways of summarising (a loop for small batches, numpy for large ones) are held to it.
    """
    rng = random.Random(seed)
    rows = []
    for key, spacing in (("dense", 1), ("every-7", 7), ("eval", 100), ("rare", 50_000)):
        first = rng.randrange(-5_000, 5_000)
        for index in range(rng.randrange(2, 300)):
            step = first + index * spacing
            value = rng.choice([rng.uniform(-1, 1), float(rng.randrange(3)), math.inf])
            rows.append(MetricRow(key, rng.randrange(10**12, 10**12 + 50), step, value, False))
    rows += [MetricRow("dense", 1, 0, math.nan, True), MetricRow("only-nan", 1, 0, 0.0, True)]
    rows.append(MetricRow("extreme", 5, -(2**63), -1.0, False))
    rows.append(MetricRow("extreme", 6, 2**63 - 1, 1.0, False))
    rng.shuffle(rows)
    if summariser == "chunks":
        seen: set[tuple[str, int]] = set()
        rows = [
            row
            for row in rows
            if not ((row.key, row.step) in seen or seen.add((row.key, row.step)))
        ]

    got = SUMMARISERS[summariser](rows)

    expected = _merged_point_by_point(rows)
    assert set(got) <= set(expected)
    for key in {row.key for row in rows if not row.is_nan}:
        levels = sorted({level for k, level, _ in got if k == key})
        steps = [row.step for row in rows if row.key == key and not row.is_nan]
        needed = 4 * (max(steps) - min(steps) + 1) / len(steps)
        finest = [level for level in ROLLUP_LEVELS if 2**level >= needed] or ROLLUP_LEVELS[-1:]
        assert levels[0] == finest[0], key
        # From the finest useful level up, every level, every bucket of it.
        assert levels == [level for level in ROLLUP_LEVELS if level >= levels[0]]
        assert {slot for slot in expected if slot[0] == key and slot[1] in levels} == {
            slot for slot in got if slot[0] == key
        }
    assert not any(key == "only-nan" for key, _, _ in got)
    assert_faithful(got, expected, rows)
    dense = [level for key, level, _ in got if key == "dense"]
    rare = [level for key, level, _ in got if key == "rare"]
    assert min(dense) == ROLLUP_LEVELS[0]
    assert min(rare) > ROLLUP_LEVELS[1]
