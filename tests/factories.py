"""Objects for tests, made through the same services the portal uses."""

from __future__ import annotations

import itertools

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
