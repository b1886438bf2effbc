"""Objects for tests, made through the same services the portal uses."""

from __future__ import annotations

import itertools

from experiments.models import Experiment, ResourceGroup, Run, Workspace
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
