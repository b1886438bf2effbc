"""The benchmark's data, generated deterministically so both servers get exactly the same."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

# A fixed epoch (2026-01-01) so that both servers store the same timestamps.
BASE_TIME_MS = 1_767_225_600_000
BATCH_SIZE = 1000
MODELS = ("cnn", "mlp", "rnn")

# search_runs workload: a filter and an order that need params and latest metrics.
SEARCH_FILTER = "metrics.accuracy > 0.5 AND params.model = 'cnn'"
SEARCH_ORDER = ["metrics.accuracy DESC"]


@dataclass(frozen=True)
class SeedRun:
    """One run of the search workload, as both servers must hold it."""

    uuid: str
    name: str
    start_time: int
    end_time: int
    params: dict[str, str]
    tags: dict[str, str]
    # key -> value; one point each at step 0, timestamp start_time.
    metrics: dict[str, float]


def search_runs_data(count: int, *, salt: str) -> Iterator[SeedRun]:
    for i in range(count):
        uuid = hashlib.md5(f"{salt}-{i}".encode()).hexdigest()
        name = f"run-{i:06d}"
        # A permutation of 0..count-1: distinct accuracies, so the order is fully determined.
        accuracy = ((i * 7919) % count + 0.5) / count
        start = BASE_TIME_MS + i * 1000
        yield SeedRun(
            uuid=uuid,
            name=name,
            start_time=start,
            end_time=start + 500,
            params={
                "lr": str((0.1, 0.03, 0.01, 0.003, 0.001)[i % 5]),
                "batch_size": str((16, 32, 64, 128)[i % 4]),
                "model": MODELS[i % 3],
                "optimizer": ("adam", "sgd")[i % 2],
            },
            tags={
                "mlflow.runName": name,
                "mlflow.user": "bench",
                "mlflow.source.type": "LOCAL",
                "team": f"team-{i % 7}",
            },
            metrics={"accuracy": accuracy, "loss": 1.0 - accuracy / 2, "f1": accuracy * 0.9},
        )


def expected_search_names(count: int, *, salt: str, limit: int) -> list[str]:
    """What SEARCH_FILTER ordered by SEARCH_ORDER must return (first `limit` run names)."""
    matching = [
        run
        for run in search_runs_data(count, salt=salt)
        if run.metrics["accuracy"] > 0.5 and run.params["model"] == "cnn"
    ]
    matching.sort(key=lambda run: run.metrics["accuracy"], reverse=True)
    return [run.name for run in matching[:limit]]


def experiment_name(i: int) -> str:
    return f"bench-exp-{i:06d}"


def batch_body(run_id: str, index: int, *, keys: int, round_: int) -> bytes:
    """A ready-made log-batch request of BATCH_SIZE metrics: `keys` keys x consecutive steps.

    Round r of a run holds steps r*per_key .. (r+1)*per_key-1, so no point repeats.
    """
    per_key = BATCH_SIZE // keys
    metrics = []
    for k in range(keys):
        for s in range(per_key):
            step = round_ * per_key + s
            metrics.append(
                {
                    "key": f"m{k}",
                    "value": (index * BATCH_SIZE + k * per_key + s) / 7.0,
                    "timestamp": BASE_TIME_MS + step,
                    "step": step,
                }
            )
    return json.dumps({"run_id": run_id, "metrics": metrics}).encode()


def history_bodies(run_id: str, points: int, *, key: str = "loss") -> list[bytes]:
    """log-batch requests that give `key` of one run a history of `points` points."""
    bodies = []
    for start in range(0, points, BATCH_SIZE):
        metrics = [
            {
                "key": key,
                "value": 1.0 / (step + 1),
                "timestamp": BASE_TIME_MS + step,
                "step": step,
            }
            for step in range(start, min(points, start + BATCH_SIZE))
        ]
        bodies.append(json.dumps({"run_id": run_id, "metrics": metrics}).encode())
    return bodies
