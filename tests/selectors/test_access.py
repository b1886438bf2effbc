"""The workspace lookup every MLflow call starts with reads the caller's role in the same query:
it must give exactly what role_on_workspace gives."""

from __future__ import annotations

import itertools
from contextlib import closing

import pytest
from django.db import connection, transaction

from experiments.choices import Role
from experiments.selectors.access import (
    RUN_FIELDS,
    role_on_workspace,
    workspace_with_role,
    workspace_with_role_and_run,
)
from tests.factories import grant, make_experiment, make_group, make_run, make_user, make_workspace

ROLES = [None, Role.READER, Role.CONTRIBUTOR, Role.OWNER]


@pytest.mark.django_db
def test_the_role_read_with_the_workspace_is_role_on_workspace() -> None:
    group = make_group()
    workspace = make_workspace(group=group)
    neighbour = make_workspace(group=make_group())
    for index, (on_workspace, on_group, on_neighbour) in enumerate(
        itertools.product(ROLES, ROLES, ROLES)
    ):
        user = make_user(f"user-{index}")
        if on_workspace:
            grant(user, on_workspace, workspace=workspace)
        if on_group:
            grant(user, on_group, group=group)
        if on_neighbour:
            grant(user, on_neighbour, workspace=neighbour)

        found, role = workspace_with_role(user=user, name=workspace.name)

        assert found == workspace
        assert found.resource_group == group
        expected = role_on_workspace(user, workspace)
        assert role == expected, (on_workspace, on_group, on_neighbour)
        held = [granted for granted in (on_workspace, on_group) if granted is not None]
        assert role == max(held, key=lambda held_role: held_role.rank, default=None)


@pytest.mark.django_db
def test_superusers_own_every_workspace_and_inactive_users_hold_nothing() -> None:
    workspace = make_workspace()
    admin = make_user("admin", superuser=True)
    inactive = make_user("gone")
    grant(inactive, Role.OWNER, workspace=workspace)
    inactive.is_active = False
    inactive.save()

    assert workspace_with_role(user=admin, name=workspace.name)[1] == Role.OWNER
    assert workspace_with_role(user=inactive, name=workspace.name) == (workspace, None)


@pytest.mark.django_db
def test_a_workspace_in_another_group_or_missing_is_not_found() -> None:
    workspace = make_workspace()
    user = make_user()
    grant(user, Role.OWNER, workspace=workspace)

    assert workspace_with_role(user=user, name=workspace.name, group_name="elsewhere") == (
        None,
        None,
    )
    assert workspace_with_role(user=user, name="missing") == (None, None)
    found, role = workspace_with_role(
        user=user, name=workspace.name, group_name=workspace.resource_group.name
    )
    assert (found, role) == (workspace, Role.OWNER)


@pytest.mark.django_db
def test_holding_the_workspace_needs_the_write_transaction() -> None:
    workspace = make_workspace()
    user = make_user()
    grant(user, Role.CONTRIBUTOR, workspace=workspace)
    with transaction.atomic():
        assert workspace_with_role(user=user, name=workspace.name, hold=True) == (
            workspace,
            Role.CONTRIBUTOR,
        )


@pytest.mark.django_db
def test_the_run_read_with_the_workspace_is_that_workspaces_run() -> None:
    group = make_group()
    workspace = make_workspace(group=group)
    neighbour = make_workspace(group=group)
    user = make_user()
    grant(user, Role.CONTRIBUTOR, group=group)
    run = make_run(make_experiment(workspace))
    elsewhere = make_run(make_experiment(neighbour))

    def lookup(name: str, run_uuid: str, group_name: str | None = None) -> tuple:
        with transaction.atomic():
            return workspace_with_role_and_run(
                user=user, name=name, group_name=group_name, run_uuid=run_uuid
            )

    found, role, row = lookup(workspace.name, run.uuid, group.name)
    assert (found, found.resource_group, role) == (workspace, group, Role.CONTRIBUTOR)
    assert row is not None
    assert dict(zip(RUN_FIELDS, row, strict=True))["uuid"] == run.uuid
    assert dict(zip(RUN_FIELDS, row, strict=True))["id"] == run.pk
    # A run of another workspace, or none: the workspace alone, so that the caller can tell.
    assert lookup(workspace.name, elsewhere.uuid) == (workspace, Role.CONTRIBUTOR, None)
    assert lookup(workspace.name, "missing") == (workspace, Role.CONTRIBUTOR, None)
    assert lookup("missing", run.uuid) == (None, None, None)
    assert lookup(workspace.name, run.uuid, "elsewhere") == (None, None, None)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_run_read_with_the_workspace_is_held_until_the_write_ends() -> None:
    import psycopg2

    workspace = make_workspace()
    user = make_user()
    grant(user, Role.OWNER, workspace=workspace)
    run = make_run(make_experiment(workspace))
    with pytest.raises(RuntimeError):  # holding needs the write's transaction
        workspace_with_role_and_run(
            user=user, name=workspace.name, group_name=None, run_uuid=run.uuid
        )
    settings = connection.settings_dict
    other = psycopg2.connect(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"])
    with closing(other), other.cursor() as cursor, transaction.atomic():
        workspace_with_role_and_run(
            user=user, name=workspace.name, group_name=None, run_uuid=run.uuid
        )
        # A deletion locks runs FOR UPDATE, and a workspace's deletion updates its row: both
        # must wait for this write.
        for table, pk in (("experiments_run", run.pk), ("experiments_workspace", workspace.pk)):
            with pytest.raises(psycopg2.errors.LockNotAvailable):
                cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE NOWAIT", [pk])
            other.rollback()
