"""Seed the portal's database through its own models and ingest service (run in a subprocess
with the portal's settings: `python -m bench.seed_portal runs|experiments ...`).

Runs, params and tags are bulk-created with the ORM; metric points go through
`metrics_insert`, the service that log-batch uses, so whatever the portal maintains at ingest
(the latest-metric table) is maintained here too. bench.seed_reference writes the same data
into the reference server.
"""

from __future__ import annotations

import argparse

import django


def seed_runs(*, workspace_name: str, experiment_id: str, count: int, salt: str) -> None:
    from django.db import connection, transaction

    from bench.data import search_runs_data
    from experiments.models import Experiment, Param, Run, RunTag, Workspace
    from experiments.services.metrics import MetricRow, metrics_insert

    workspace = Workspace.objects.get(name=workspace_name)
    experiment = Experiment.objects.get(workspace=workspace, pk=int(experiment_id))
    data = list(search_runs_data(count, salt=salt))
    with transaction.atomic():
        runs = Run.objects.bulk_create(
            [
                Run(
                    uuid=run.uuid,
                    experiment=experiment,
                    workspace=workspace,
                    name=run.name,
                    user_id="bench",
                    status="FINISHED",
                    start_time=run.start_time,
                    end_time=run.end_time,
                    artifact_uri=f"mlflow-artifacts:/{experiment.wire_id}/{run.uuid}/artifacts",
                )
                for run in data
            ],
            batch_size=2000,
        )
        RunTag.objects.bulk_create(
            [
                RunTag(run=row, key=key, value=value)
                for row, run in zip(runs, data, strict=True)
                for key, value in run.tags.items()
            ],
            batch_size=5000,
        )
        Param.objects.bulk_create(
            [
                Param(run=row, key=key, value=value)
                for row, run in zip(runs, data, strict=True)
                for key, value in run.params.items()
            ],
            batch_size=5000,
        )
        for row, run in zip(runs, data, strict=True):
            metrics_insert(
                run_pk=row.pk,
                rows=[
                    MetricRow(key, run.start_time, 0, value, False)
                    for key, value in run.metrics.items()
                ],
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def seed_experiments(*, workspace_name: str, count: int) -> None:
    from django.db import connection

    from bench.data import BASE_TIME_MS, experiment_name
    from experiments.models import Experiment, Workspace

    workspace = Workspace.objects.get(name=workspace_name)
    Experiment.objects.bulk_create(
        [
            Experiment(
                workspace=workspace,
                name=experiment_name(i),
                creation_time=BASE_TIME_MS + i,
                last_update_time=BASE_TIME_MS + i,
            )
            for i in range(count)
        ],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["runs", "experiments"])
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--experiment-id")
    parser.add_argument("--salt", default="")
    args = parser.parse_args()
    django.setup()
    if args.kind == "runs":
        seed_runs(
            workspace_name=args.workspace,
            experiment_id=args.experiment_id,
            count=args.count,
            salt=args.salt,
        )
    else:
        seed_experiments(workspace_name=args.workspace, count=args.count)


if __name__ == "__main__":
    main()
