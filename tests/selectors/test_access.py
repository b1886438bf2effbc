"""The workspace lookup every MLflow call starts with reads the caller's role in the same query:
it must give exactly what role_on_workspace gives."""

from __future__ import annotations

import itertools

import pytest
from django.db import transaction

from experiments.choices import Role
from experiments.selectors.access import role_on_workspace, workspace_with_role
from tests.factories import grant, make_group, make_user, make_workspace

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
