"""Objects for tests, made through the same services the portal uses."""

from __future__ import annotations

import io
import itertools
import uuid

from django.contrib.auth.models import User

from experiments.choices import Role
from experiments.models import Experiment, ResourceGroup, Run, Workspace
from experiments.services.access import api_key_create, role_assign
from experiments.services.experiments import experiment_create
from experiments.services.runs import run_create
from experiments.services.workspaces import resource_group_create, workspace_create

_numbers = itertools.count(1)


def make_group(name: str | None = None) -> ResourceGroup:
    return resource_group_create(name=name or f"group-{next(_numbers)}")


def make_workspace(name: str | None = None, group: ResourceGroup | None = None) -> Workspace:
    workspace = workspace_create(
        resource_group=group or make_group(), name=name or f"ws-{next(_numbers)}"
    )
    return Workspace.objects.select_related("resource_group").get(pk=workspace.pk)


def make_experiment(workspace: Workspace, name: str | None = None) -> Experiment:
    return experiment_create(workspace=workspace, name=name or f"experiment-{next(_numbers)}")


def make_run(experiment: Experiment, **kwargs: object) -> Run:
    return run_create(experiment=experiment, **kwargs)  # type: ignore[arg-type]


def make_user(username: str | None = None, *, superuser: bool = False) -> User:
    username = username or f"user-{next(_numbers)}"
    if superuser:
        return User.objects.create_superuser(username=username, password=None)
    return User.objects.create_user(username=username, password=None)


def grant(
    user: User,
    role: Role,
    *,
    workspace: Workspace | None = None,
    group: ResourceGroup | None = None,
) -> None:
    role_assign(user=user, role=role, workspace=workspace, resource_group=group)


def make_api_key(user: User) -> str:
    _key, secret = api_key_create(user=user, name="tests")
    return secret


def seed_runs(
    workspace: Workspace,
    *,
    runs: int,
    points_per_run: int = 0,
    files_per_run: int = 0,
    experiment: Experiment | None = None,
    deleted_time: int | None = None,
) -> list[Run]:
    """Many runs at once (bulk inserts, not the services), with metric history, a param, a
    tag, a latest metric and artifact files laid out as the artifact proxy writes them."""
    from experiments.choices import LifecycleStage
    from experiments.models import LatestMetric, Metric, Param, RunTag
    from experiments.storage import artifact_storage

    experiment = experiment or make_experiment(workspace)
    stage = LifecycleStage.DELETED if deleted_time is not None else LifecycleStage.ACTIVE
    created = Run.objects.bulk_create(
        Run(
            uuid=uuid.uuid4().hex,
            experiment=experiment,
            workspace=workspace,
            name=f"run-{index}",
            start_time=1_700_000_000_000 + index,
            lifecycle_stage=stage,
            deleted_time=deleted_time,
            artifact_uri="mlflow-artifacts:/x",
        )
        for index in range(runs)
    )
    Param.objects.bulk_create(Param(run=run, key="lr", value="0.1") for run in created)
    RunTag.objects.bulk_create(RunTag(run=run, key="team", value="a") for run in created)
    if points_per_run:
        Metric.objects.bulk_create(
            (
                Metric(
                    run=run,
                    key="loss",
                    timestamp=step,
                    step=step,
                    value=1.0 / (step + 1),
                    is_nan=False,
                )
                for run in created
                for step in range(points_per_run)
            ),
            batch_size=5000,
        )
        LatestMetric.objects.bulk_create(
            LatestMetric(
                run=run, key="loss", timestamp=0, step=points_per_run - 1, value=0.0, is_nan=False
            )
            for run in created
        )
    storage = artifact_storage()
    for run in created:
        run.workspace = workspace
        for index in range(files_per_run):
            storage.save(
                f"{run.artifact_prefix}/files/file-{index}.txt",
                io.BytesIO(f"{run.uuid} {index}\n".encode()),
            )
    return created


def make_rich_run(workspace: Workspace, experiment: Experiment | None = None) -> Run:
    """A run with one of everything a run can carry, made through the services: metrics,
    params, tags, a dataset input with tags, a logged model with params, tags and a model
    metric, model inputs/outputs, and artifact files of the run and of the model."""
    from experiments.models import LoggedModel
    from experiments.services.logged_models import (
        logged_model_create,
        logged_model_log_params,
        logged_model_set_tags,
    )
    from experiments.services.runs import (
        DatasetSpec,
        MetricPoint,
        run_log_batch,
        run_log_inputs,
        run_log_outputs,
    )
    from experiments.storage import artifact_storage

    experiment = experiment or make_experiment(workspace)
    run = make_run(experiment, tags=[("team", "vision")])
    model = logged_model_create(experiment=experiment, name="model", source_run_id=run.uuid)
    logged_model_log_params(model=model, params=[("depth", "3")])
    logged_model_set_tags(model=model, tags=[("stage", "dev")])
    run_log_batch(
        run=run,
        metrics=[MetricPoint("loss", 0.5, 1, step) for step in range(5)]
        + [MetricPoint("acc", 0.9, 2, 0, model.model_id)],
        params=[("lr", "0.1")],
    )
    run_log_inputs(
        run=run,
        datasets=[DatasetSpec("train", "abc", "local", "{}", tags=[("context", "training")])],
        model_ids=[model.model_id],
    )
    run_log_outputs(run=run, outputs=[(model.model_id, 0)])
    storage = artifact_storage()
    run.workspace = workspace
    storage.save(f"{run.artifact_prefix}/notes.txt", io.BytesIO(b"notes"))
    storage.save(f"{run.artifact_prefix}/plots/loss.png", io.BytesIO(b"\x89PNG"))
    model = LoggedModel.objects.select_related("workspace").get(pk=model.pk)
    storage.save(f"{model.artifact_prefix}/artifacts/MLmodel", io.BytesIO(b"flavors: {}"))
    return run
