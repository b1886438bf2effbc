"""Speed of the portal's pages at the sizes the issue names, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_pages \\
        .venv/bin/python bench/portal_pages.py [--repeat 15]

Seeds (once; a later run reuses the data) a resource group `bench-pages` with
- 100,000 experiments over 10 workspaces (bulk INSERT ... SELECT generate_series),
- an experiment with 10,000 runs, 5 params and 3 metrics each (the same way),
- an experiment with 20 runs of 100,000 `loss` points each, stored through the ingest path
  (metrics_insert, 10,000 points a call) so that the metric rollups are what production has,
- an experiment at the compare view's limits: 500 runs by 30 metrics of 20 points each, logged
  a step at a time as a training loop does, with a parameter `p1` of 7 values to group by,
then times the operations through Django's request handling (URL routing, view,
selectors, template or JSON encoding; no network) and prints median and 95th percentile. The
requests come from a signed-in member with the Reader role on the group (not a superuser: the
scoping by role assignments is part of what is timed).
It is a measurement, not a test: nothing fails when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from experiments.choices import Role  # noqa: E402
from experiments.models import Experiment, Param, ResourceGroup, Run, Workspace  # noqa: E402
from experiments.services.access import role_assign  # noqa: E402
from experiments.services.experiments import experiment_create  # noqa: E402
from experiments.services.metrics import MetricRow, metrics_insert  # noqa: E402
from experiments.services.workspaces import workspace_ensure  # noqa: E402

GROUP = "bench-pages"
WORKSPACES = 10
EXPERIMENTS = 100_000
MANY_RUNS = 10_000
LONG_RUNS = 20
LONG_POINTS = 100_000
WIDE_RUNS = 500
WIDE_METRICS = 30
WIDE_POINTS = 20
INGEST_CHUNK = 10_000
T0 = 1_700_000_000_000
TARGETS = {"search": 50.0, "experiment page": 300.0, "chart JSON": 300.0}


def log(message: str) -> None:
    print(message, flush=True)


def workspaces() -> list[Workspace]:
    return [
        workspace_ensure(group_name=GROUP, workspace_name=f"{GROUP}-{index}")[0]
        for index in range(WORKSPACES)
    ]


def member() -> Any:
    """A user whose Reader role on the group is what lets them see its workspaces."""
    user, _ = get_user_model().objects.get_or_create(username="bench-pages-member")
    group = ResourceGroup.objects.get(name=GROUP)
    if not group.roles.filter(user=user).exists():
        role_assign(user=user, resource_group=group, role=Role.READER)
    return user


def seed_experiments(spaces: list[Workspace]) -> None:
    if Experiment.objects.filter(workspace__in=spaces, name__startswith="exp-").exists():
        return
    started = time.perf_counter()
    ids = [w.pk for w in spaces]
    with connection.cursor() as cursor:
        # Names like exp-vision-resnet-000042: families and model names repeat, numbers do not.
        cursor.execute(
            """
            INSERT INTO experiments_experiment
                (workspace_id, name, is_default, lifecycle_stage, creation_time,
                 last_update_time, last_run_time)
            SELECT (%s::bigint[])[1 + i %% %s],
                   'exp-' || (ARRAY['vision','nlp','speech','tabular','rl'])[1 + i %% 5] || '-'
                   || (ARRAY['resnet','bert','wav2vec','xgboost','ppo','vit','gpt','unet'])
                      [1 + (i / 5) %% 8]
                   || '-' || lpad(i::text, 6, '0'),
                   false, 'active', %s + i * 1000, %s + i * 1000,
                   CASE WHEN i %% 3 = 0 THEN NULL ELSE %s + i * 2000 END
            FROM generate_series(1, %s) AS i
            """,
            [ids, len(ids), T0, T0, T0, EXPERIMENTS],
        )
    log(f"  {EXPERIMENTS:,} experiments in {time.perf_counter() - started:.1f} s")


def seed_many_runs(workspace: Workspace) -> Experiment:
    experiment = Experiment.objects.filter(workspace=workspace, name="bench-10k-runs").first()
    if experiment is not None:
        return experiment
    started = time.perf_counter()
    experiment = experiment_create(workspace=workspace, name="bench-10k-runs")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO experiments_run
                (uuid, experiment_id, workspace_id, name, user_id, status, start_time, end_time,
                 lifecycle_stage, artifact_uri)
            SELECT md5('many' || i), %s, %s, 'run-' || i, 'bench',
                   (ARRAY['FINISHED','FAILED','RUNNING','KILLED'])[1 + i %% 4],
                   %s + i * 60000, %s + i * 60000 + 30000, 'active',
                   'mlflow-artifacts:/' || %s || '/' || md5('many' || i) || '/artifacts'
            FROM generate_series(1, %s) AS i
            """,
            [experiment.pk, workspace.pk, T0, T0, experiment.pk, MANY_RUNS],
        )
        cursor.execute(
            """
            INSERT INTO experiments_param (run_id, key, value)
            SELECT r.id, k.key, CASE k.key WHEN 'lr' THEN (1.0 / (1 + r.id %% 7))::text
                                           ELSE (r.id %% 11)::text END
            FROM experiments_run r
            CROSS JOIN (VALUES ('lr'), ('depth'), ('optimizer'), ('batch_size'), ('seed')) k(key)
            WHERE r.experiment_id = %s
            """,
            [experiment.pk],
        )
        cursor.execute(
            """
            INSERT INTO experiments_latestmetric (run_id, key, timestamp, step, value, is_nan)
            SELECT r.id, k.key, r.start_time, 100, random(), false
            FROM experiments_run r
            CROSS JOIN (VALUES ('loss'), ('accuracy'), ('f1')) k(key)
            WHERE r.experiment_id = %s
            """,
            [experiment.pk],
        )
        cursor.execute(
            """
            INSERT INTO experiments_runtag (run_id, key, value)
            SELECT r.id, 'mlflow.runName', r.name FROM experiments_run r
            WHERE r.experiment_id = %s
            """,
            [experiment.pk],
        )
        cursor.execute(
            "UPDATE experiments_experiment SET last_run_time = %s WHERE id = %s",
            [T0 + MANY_RUNS * 60000, experiment.pk],
        )
    log(f"  {MANY_RUNS:,} runs with params and metrics in {time.perf_counter() - started:.1f} s")
    return experiment


def seed_long_series(workspace: Workspace) -> list[Run]:
    experiment = Experiment.objects.filter(workspace=workspace, name="bench-long-series").first()
    if experiment is not None:
        return list(experiment.runs.order_by("pk"))
    experiment = experiment_create(workspace=workspace, name="bench-long-series")
    started = time.perf_counter()
    runs = []
    for index in range(LONG_RUNS):
        run = Run.objects.create(
            uuid=f"{index:032x}",
            experiment=experiment,
            workspace=workspace,
            name=f"long-{index}",
            status="FINISHED",
            start_time=T0,
            end_time=T0 + LONG_POINTS * 10,
            artifact_uri="mlflow-artifacts:/bench",
        )
        runs.append(run)
        for start in range(0, LONG_POINTS, INGEST_CHUNK):
            # A noisy decay with a spike every 9,973 steps, as real curves have.
            rows = [
                MetricRow(
                    "loss",
                    T0 + step * 10,
                    step,
                    (5.0 if step % 9973 == 0 else 1.0 / (1 + step / 1000)) + (step % 17) / 1000,
                    False,
                )
                for step in range(start, start + INGEST_CHUNK)
            ]
            with transaction.atomic():
                metrics_insert(run_pk=run.pk, rows=rows)
    elapsed = time.perf_counter() - started
    points = LONG_RUNS * LONG_POINTS
    log(
        f"  {points:,} metric points through the ingest path in {elapsed:.1f} s "
        f"({points / elapsed:,.0f} points/s, rollups included)"
    )
    return runs


def seed_wide_compare(workspace: Workspace) -> list[Run]:
    """As many runs and metrics as the compare view draws at once."""
    experiment = Experiment.objects.filter(workspace=workspace, name="bench-compare-limits").first()
    if experiment is not None:
        return list(experiment.runs.order_by("pk"))
    experiment = experiment_create(workspace=workspace, name="bench-compare-limits")
    started = time.perf_counter()
    runs = Run.objects.bulk_create(
        Run(
            uuid=f"c{index:031x}",
            experiment=experiment,
            workspace=workspace,
            name=f"wide-{index}",
            status="FINISHED",
            start_time=T0 + index * 1000,
            end_time=T0 + index * 1000 + WIDE_POINTS * 10,
            artifact_uri="mlflow-artifacts:/bench",
        )
        for index in range(WIDE_RUNS)
    )
    Param.objects.bulk_create(
        Param(run=run, key="p1", value=str(index % 7)) for index, run in enumerate(runs)
    )
    # As a training loop logs them: the metrics of a step in one batch (stored as point rows).
    for index, run in enumerate(runs):
        with transaction.atomic():
            for step in range(WIDE_POINTS):
                rows = [
                    MetricRow(
                        f"m{metric:02d}",
                        run.start_time + step * 10,
                        step,
                        (metric + 1) / (1 + step) + (index % 13) / 100,
                        False,
                    )
                    for metric in range(WIDE_METRICS)
                ]
                metrics_insert(run_pk=run.pk, rows=rows)
    log(
        f"  {WIDE_RUNS} runs x {WIDE_METRICS} metrics x {WIDE_POINTS} points "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return runs


def timed(name: str, request: Callable[[], object], repeat: int) -> list[float]:
    request()  # warm: first query plans, imports
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        request()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report(name: str, samples: list[float], extra: str = "") -> None:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    target = TARGETS.get(name.split(" (")[0])
    verdict = "" if target is None else (" ok" if p95 < target else f" OVER {target:.0f} ms")
    log(
        f"{name:<46} median {statistics.median(samples):7.1f} ms  p95 {p95:7.1f} ms{verdict}{extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database (the targets are for PostgreSQL).")
    call_command("migrate", verbosity=0)
    log("Seeding (skipped where done before):")
    spaces = workspaces()
    seed_experiments(spaces)
    many = seed_many_runs(spaces[0])
    long_runs = seed_long_series(spaces[1])
    wide_runs = seed_wide_compare(spaces[2])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    total = Experiment.objects.count()
    log(f"Database: {total:,} experiments, PostgreSQL {connection.pg_version}\n")

    web = Client(HTTP_HOST="localhost")
    web.force_login(member())
    for query in ("resnet-004242", "bert", "vit", "exp-nlp-gpt-00", "exp", "tabular", "00"):
        response = web.get("/search/", {"q": query})
        if response.status_code != 200 or query not in response.content.decode():
            sys.exit(f"search {query!r}: {response.status_code}, no hits (seeding or access?)")
        samples = timed("search", lambda q=query: web.get("/search/", {"q": q}), args.repeat)
        report(f"search ({query!r})", samples)

    ws = spaces[0]
    page = reverse("experiments:experiment-detail", args=[GROUP, ws.name, str(many.pk)])
    for label, query in (
        ("", {}),
        (" sorted by a metric", {"order": "metrics.`loss` DESC"}),
        (" filtered", {"filter": "metrics.loss < 0.5 AND params.optimizer = '3'"}),
    ):
        response = web.get(page, query)
        assert response.status_code == 200, response.status_code
        samples = timed("experiment page", lambda q=query: web.get(page, q), args.repeat)
        report(f"experiment page (10,000 runs{label})", samples)

    data = reverse("experiments:compare-data", args=[GROUP, spaces[1].name])
    query = {"runs": ",".join(run.uuid for run in long_runs), "metrics": "loss"}
    for axis in ("step", "time"):
        response = web.get(data, {**query, "x": axis})
        assert response.status_code == 200, response.content[:200]
        size = len(response.content)
        samples = timed("chart JSON", lambda a=axis: web.get(data, {**query, "x": a}), args.repeat)
        report(
            f"chart JSON (20 x 100,000 points, x={axis})",
            samples,
            f"  {size / 1e6:.2f} MB",
        )

    data = reverse("experiments:compare-data", args=[GROUP, spaces[2].name])
    query = {
        "runs": ",".join(run.uuid for run in wide_runs),
        "metrics": ",".join(f"m{metric:02d}" for metric in range(WIDE_METRICS)),
    }
    for label, options in (
        ("lines", {"x": "relative", "smooth": "0.99", "log": "1"}),
        ("grouped by p1", {"group": "p1", "x": "time", "outliers": "1", "smooth": "0.9"}),
    ):
        response = web.get(data, {**query, **options})
        assert response.status_code == 200, response.content[:200]
        size = len(response.content)
        samples = timed(
            "compare JSON",
            lambda o=options: web.get(data, {**query, **o}),
            max(3, args.repeat // 5),
        )
        report(f"compare JSON (500 runs x 30 metrics, {label})", samples, f"  {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
