from __future__ import annotations

from django.db import IntegrityError, connection, transaction

from experiments.choices import ContainerState
from experiments.clock import now_ms
from experiments.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from experiments.models import (
    DEFAULT_EXPERIMENT_NAME,
    Experiment,
    ResourceGroup,
    Workspace,
)
from experiments.models.groups import resource_group_name_problem, workspace_name_problem


def resource_group_create(*, name: str, description: str = "") -> ResourceGroup:
    if problem := resource_group_name_problem(name):
        raise InvalidInput(problem)
    try:
        with transaction.atomic():
            return ResourceGroup.objects.create(name=name, description=description)
    except IntegrityError:
        raise AlreadyExists(f"Resource group '{name}' already exists.") from None


def workspace_create(
    *, resource_group: ResourceGroup, name: str, description: str = ""
) -> Workspace:
    """Create a workspace with its Default experiment, like a freshly started MLflow server."""
    if problem := workspace_name_problem(name):
        raise InvalidInput(problem)
    try:
        with transaction.atomic():
            # Locked against resource_group_delete, which marks the group and its workspaces.
            state = (
                ResourceGroup.objects.select_for_update(no_key=True)
                .filter(pk=resource_group.pk)
                .values_list("state", flat=True)
                .first()
            )
            if state != ContainerState.ACTIVE:
                raise Conflict(
                    f"Resource group '{resource_group.name}' is being deleted; "
                    "no workspace can be added to it."
                )
            workspace = Workspace.objects.create(
                resource_group=resource_group, name=name, description=description
            )
            created = now_ms()
            Experiment.objects.create(
                workspace=workspace,
                name=DEFAULT_EXPERIMENT_NAME,
                is_default=True,
                creation_time=created,
                last_update_time=created,
            )
    except IntegrityError:
        raise AlreadyExists(
            f"Workspace '{name}' already exists. Workspace names are unique across the portal."
        ) from None
    return workspace


def workspace_ensure(*, group_name: str, workspace_name: str) -> tuple[Workspace, bool]:
    """Return the workspace `group/workspace`, creating the group and workspace when missing.

    Returns (workspace, created). A workspace of that name in another group is an error.
    """
    existing = (
        Workspace.objects.select_related("resource_group").filter(name=workspace_name).first()
    )
    if existing is not None:
        if existing.resource_group.name != group_name:
            raise AlreadyExists(
                f"Workspace '{workspace_name}' already exists in resource group "
                f"'{existing.resource_group.name}'. Workspace names are unique across the portal."
            )
        return existing, False
    group = ResourceGroup.objects.filter(name=group_name).first()
    if group is None:
        try:
            group = resource_group_create(name=group_name)
        except AlreadyExists:
            group = ResourceGroup.objects.get(name=group_name)
    try:
        return workspace_create(resource_group=group, name=workspace_name), True
    except AlreadyExists:
        return Workspace.objects.select_related("resource_group").get(name=workspace_name), False


def workspace_hold_for_write(*, workspace: Workspace) -> None:
    """Refuse the write if the workspace is being deleted, holding it until the write commits.

    Call inside the write's transaction. The share lock makes resource_group_delete and
    workspace_delete (which update this row) wait for writes already under way, and every
    write that starts later sees the new state: nothing is written after the deletion starts.
    On SQLite the write transaction already holds the database's write lock.
    """
    sql = "SELECT state FROM experiments_workspace WHERE id = %s"
    if connection.vendor == "postgresql":
        sql += " FOR SHARE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [workspace.pk])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"Workspace '{workspace.name}' does not exist.")
    if row[0] != ContainerState.ACTIVE:
        raise Conflict(writes_refused_message(workspace))


def writes_refused_message(workspace: Workspace) -> str:
    return f"Workspace '{workspace.name}' is being deleted and accepts no new data."
