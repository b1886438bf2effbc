"""Who a request is and what it may see: the one scoping layer for pages and APIs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from experiments.choices import ContainerState, DeletionKind, LifecycleStage, Role
from experiments.errors import NotFound, PermissionDenied
from experiments.models import (
    ApiKey,
    DeletionJob,
    ResourceGroup,
    RoleAssignment,
    Run,
    TrackingToken,
    Workspace,
)
from experiments.prepared import PreparedStatement

# last_used_at is a hint for the keys page: write it at most this often per key.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller of an API: a user, possibly confined to one workspace."""

    user: AbstractBaseUser
    # Set when the credential is a tracking token: it reaches this workspace only.
    workspace_id: int | None = None
    # The API key used (tracking tokens minted by it die with it).
    api_key_id: int | None = None


def authenticate_secret(secret: str) -> Principal | None:
    """The principal of an API key or tracking token, or None if unknown, expired or revoked.

    Every MLflow call starts here, so the lookups are written out in SQL: compiling them with
    the ORM cost twice what running them does (0.6 ms a call).
    """
    if not secret:
        return None
    digest = hashlib.sha256(secret.encode()).hexdigest()
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    if secret.startswith("ptt_"):
        row = _fetch_one(_TOKEN_SQL, [digest, at, at])
        if row is None:
            return None
        workspace_id, *user = row
        return _active(Principal(_user(user), workspace_id))
    row = _fetch_one(_KEY_SQL, [digest, at])
    if row is None:
        return None
    key_id, last_used_at, *user = row
    principal = _active(Principal(_user(user), api_key_id=key_id))
    if principal is not None:
        last_used = _as_datetime(last_used_at)
        if last_used is None or last_used < now - _LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key_id).update(last_used_at=now)
    return principal


def role_on_workspace(user: AbstractBaseUser | AnonymousUser, workspace: Workspace) -> Role | None:
    """The strongest role `user` holds on the workspace or its resource group."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.OWNER
    with connection.cursor() as cursor:
        cursor.execute(_ROLE_SQL.sql(cursor), [user.pk, workspace.pk, workspace.resource_group_id])
        held = [Role(role) for (role,) in cursor.fetchall()]
    return max(held, key=lambda role: role.rank) if held else None


# What a request needs of its user, in the model's field order (as Model.from_db takes them);
# other fields load on first use.
_USER_FIELDS = tuple(
    field.attname
    for field in get_user_model()._meta.concrete_fields
    if field.attname in {"id", "username", "is_active", "is_superuser"}
)
_USER_COLUMNS = ", ".join(f"u.{name}" for name in _USER_FIELDS)
_USER_TABLE = get_user_model()._meta.db_table
# Whether a key (k) or a tracking token (t) is live; a token dies with the API key it was
# minted from. Parameters: the key's digest and now; the token's digest, now, now.
_LIVE_KEY = (
    "k.key_hash = %s AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > %s)"
)
_LIVE_TOKEN = (
    "t.token_hash = %s AND t.revoked_at IS NULL AND t.expires_at > %s AND (k.id IS NULL "
    "OR (k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > %s)))"
)
_KEY_SQL = PreparedStatement(
    f"SELECT k.id, k.last_used_at, {_USER_COLUMNS} "
    f"FROM {ApiKey._meta.db_table} k JOIN {_USER_TABLE} u ON u.id = k.user_id WHERE {_LIVE_KEY}"
)
_TOKEN_SQL = PreparedStatement(
    f"SELECT t.workspace_id, {_USER_COLUMNS} "
    f"FROM {TrackingToken._meta.db_table} t JOIN {_USER_TABLE} u ON u.id = t.user_id "
    f"LEFT JOIN {ApiKey._meta.db_table} k ON k.id = t.api_key_id WHERE {_LIVE_TOKEN}"
)
_ROLE_SQL = PreparedStatement(
    f"SELECT role FROM {RoleAssignment._meta.db_table} "
    "WHERE user_id = %s AND (workspace_id = %s OR resource_group_id = %s)"
)


# What an MLflow call needs of its workspace and group (the other fields load on first use),
# and the strongest role the caller holds on either, in one statement. Written out rather than
# built by the ORM: compiling the query cost as much as running it.
_FOUND_WORKSPACE_FIELDS = ("id", "resource_group_id", "name", "state")
_FOUND_GROUP_FIELDS = ("id", "name", "state")
_RANK_CASE = " ".join(f"WHEN '{role.value}' THEN {role.rank}" for role in Role)
_ROLE_BY_RANK = {role.rank: role for role in Role}
_WORKSPACE_WITH_ROLE_SQL = (
    "SELECT {run}w.id, w.resource_group_id, w.name, w.state, g.id, g.name, g.state, "
    f"(SELECT MAX(CASE a.role {_RANK_CASE} END) FROM {RoleAssignment._meta.db_table} a "
    "WHERE a.user_id = %s AND (a.workspace_id = w.id OR a.resource_group_id = g.id)) "
    f"FROM {Workspace._meta.db_table} w "
    f"JOIN {ResourceGroup._meta.db_table} g ON g.id = w.resource_group_id "
    "{run_join}WHERE w.name = %s{group}{lock}"
)
# By (group named, held): SQLite has no row locks.
_WORKSPACE_WITH_ROLE = {
    (grouped, held): PreparedStatement(
        _WORKSPACE_WITH_ROLE_SQL.format(
            run="",
            run_join="",
            group=" AND g.name = %s" if grouped else "",
            lock=" FOR SHARE OF w" if held else "",
        )
    )
    for grouped in (False, True)
    for held in (False, True)
}
# The same, joined with one run of the workspace (by uuid), both rows held as a write holds
# them: the workspace FOR SHARE, the run FOR NO KEY UPDATE as services.runs.
# run_hold_for_ingest holds it. Whichever the database locks first, no transaction waits for
# one while holding the other (a deletion locks workspaces or runs, never both at once).
# By (group named, held).
_WORKSPACE_WITH_ROLE_AND_RUN = {
    (grouped, held): PreparedStatement(
        _WORKSPACE_WITH_ROLE_SQL.format(
            run="".join(f"r.{field.column}, " for field in Run._meta.concrete_fields),
            run_join=f"JOIN {Run._meta.db_table} r ON r.workspace_id = w.id AND r.uuid = %s ",
            group=" AND g.name = %s" if grouped else "",
            lock=" FOR SHARE OF w FOR NO KEY UPDATE OF r" if held else "",
        )
    )
    for grouped in (False, True)
    for held in (False, True)
}
RUN_FIELDS = tuple(field.attname for field in Run._meta.concrete_fields)


# The caller of a secret as authenticate_secret finds it, as a row (user_id, is_superuser,
# workspace_id: a tracking token's workspace), in SQL: none if the secret is unknown, expired
# or revoked, its user inactive or not the one a Basic header names, or, for an API key, if
# its last use is not recent (authenticate_secret would write it). Parameters: see
# writable_run_params.
_CALLER_SQL = (
    f"SELECT u.id AS user_id, u.is_superuser, t.workspace_id "
    f"FROM {TrackingToken._meta.db_table} t JOIN {_USER_TABLE} u ON u.id = t.user_id "
    f"LEFT JOIN {ApiKey._meta.db_table} k ON k.id = t.api_key_id "
    f"WHERE {_LIVE_TOKEN} AND u.is_active AND (%s::varchar IS NULL OR u.username = %s) "
    "UNION ALL "
    "SELECT u.id, u.is_superuser, NULL "
    f"FROM {ApiKey._meta.db_table} k JOIN {_USER_TABLE} u ON u.id = k.user_id "
    f"WHERE {_LIVE_KEY} AND k.last_used_at >= %s AND u.is_active "
    "AND (%s::varchar IS NULL OR u.username = %s)"
)
# A write's checks on a run as one query: the id of the run `uuid` of workspace `name` (in
# the group named, if one is) if the workspace and its group take writes
# (endpoint._require_writable), the caller reaches the workspace (a tracking token its own
# only) with a role that allows writing (auth.check_role) and the run is active
# (services.runs._require_active); no row otherwise. Both rows are held as
# workspace_with_role_and_run holds them. PostgreSQL. Parameters: writable_run_params.
WRITABLE_RUN_SQL = (
    f"SELECT r.id AS run_id FROM ({_CALLER_SQL}) c CROSS JOIN {Workspace._meta.db_table} w "
    f"JOIN {ResourceGroup._meta.db_table} g ON g.id = w.resource_group_id "
    f"JOIN {Run._meta.db_table} r ON r.workspace_id = w.id AND r.uuid = %s "
    "WHERE w.name = %s AND (%s::varchar IS NULL OR g.name = %s) "
    f"AND w.state = '{ContainerState.ACTIVE.value}' AND g.state = '{ContainerState.ACTIVE.value}' "
    f"AND r.lifecycle_stage = '{LifecycleStage.ACTIVE.value}' "
    "AND (c.workspace_id IS NULL OR w.id = c.workspace_id) "
    f"AND (c.is_superuser OR (SELECT MAX(CASE a.role {_RANK_CASE} END) "
    f"FROM {RoleAssignment._meta.db_table} a WHERE a.user_id = c.user_id "
    "AND (a.workspace_id = w.id OR a.resource_group_id = g.id)) "
    f">= {Role.CONTRIBUTOR.rank}) FOR SHARE OF w FOR NO KEY UPDATE OF r"
)


@dataclass(frozen=True)
class Credential:
    """What a request presents: a secret (API key or tracking token), and the username a
    Basic header names with it (None for a Bearer token)."""

    secret: str
    username: str | None = None


def writable_run_params(
    credential: Credential, *, name: str, group_name: str | None, run_uuid: str
) -> list[object]:
    """The parameters of WRITABLE_RUN_SQL for the run `run_uuid` of workspace `name` (in
    group `group_name`; None: the workspace is named alone), called with `credential`."""
    digest = hashlib.sha256(credential.secret.encode()).hexdigest()
    now = timezone.now()
    recent = now - _LAST_USED_RESOLUTION
    username = credential.username
    return [
        *(digest, now, now, username, username),
        *(digest, now, recent, username, username),
        *(run_uuid, name, group_name, group_name),
    ]


def workspace_with_role_and_run(
    *,
    user: AbstractBaseUser,
    name: str,
    group_name: str | None,
    run_uuid: str,
) -> tuple[Workspace | None, Role | None, tuple[Any, ...] | None]:
    """workspace_with_role(hold=True), and the row of the workspace's run `run_uuid` (fields
    RUN_FIELDS), held until the transaction ends as run_hold_for_ingest holds it: one round
    trip where a log-batch took two. The row is None if the run is not found (then a second
    query finds the workspace alone, so that the caller can tell which is missing).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("workspace_with_role_and_run needs the write's transaction.")
    statement = _WORKSPACE_WITH_ROLE_AND_RUN[
        group_name is not None, connection.vendor == "postgresql"
    ]
    params = [user.pk, run_uuid, name] + ([] if group_name is None else [group_name])
    with connection.cursor() as cursor:
        cursor.execute(statement.sql(cursor), params)
        row = cursor.fetchone()
    if row is None:
        return *workspace_with_role(user=user, name=name, group_name=group_name, hold=True), None
    split = len(RUN_FIELDS)
    return *_workspace_and_role(user, row[split:]), row[:split]


def workspace_with_role(
    *,
    user: AbstractBaseUser,
    name: str,
    group_name: str | None = None,
    hold: bool = False,
) -> tuple[Workspace | None, Role | None]:
    """The workspace `name` (in group `group_name` when given) with its resource group, and
    the role `user` holds on it as role_on_workspace gives it; (None, None) if there is no
    such workspace. One query: every MLflow call starts with it.

    `hold`: the workspace row is held FOR SHARE until the transaction ends, as
    services.workspaces.workspace_hold_for_write holds it: a deletion that starts later waits
    for the write. Call inside the write's transaction.
    """
    if hold and not connection.in_atomic_block:
        raise RuntimeError("workspace_with_role(hold=True) needs the write's transaction.")
    held = hold and connection.vendor == "postgresql"
    statement = _WORKSPACE_WITH_ROLE[group_name is not None, held]
    params = [user.pk, name] if group_name is None else [user.pk, name, group_name]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql(cursor), params)
        row = cursor.fetchone()
    if row is None:
        return None, None
    return _workspace_and_role(user, row)


def _workspace_and_role(
    user: AbstractBaseUser, row: tuple[Any, ...]
) -> tuple[Workspace, Role | None]:
    split = len(_FOUND_WORKSPACE_FIELDS)
    workspace = Workspace.from_db(connection.alias, _FOUND_WORKSPACE_FIELDS, row[:split])
    workspace.resource_group = ResourceGroup.from_db(
        connection.alias, _FOUND_GROUP_FIELDS, row[split:-1]
    )
    if not user.is_active:
        return workspace, None
    if user.is_superuser:
        return workspace, Role.OWNER
    return workspace, _ROLE_BY_RANK.get(row[-1])


def _as_datetime(value: datetime | str | None) -> datetime | None:
    """A timestamp column as read raw: SQLite gives UTC without a zone (or as text)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _fetch_one(statement: PreparedStatement, params: list[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(statement.sql(cursor), params)
        return cursor.fetchone()


def _user(values: list[Any]) -> AbstractBaseUser:
    user = get_user_model().from_db(connection.alias, _USER_FIELDS, values)
    # SQLite hands booleans over as integers.
    user.is_active, user.is_superuser = bool(user.is_active), bool(user.is_superuser)
    return user


def _active(principal: Principal) -> Principal | None:
    return principal if principal.user.is_active else None


def group_role(user: AbstractBaseUser | AnonymousUser, group: ResourceGroup) -> Role | None:
    """The role `user` holds on a resource group itself (superusers are owners of all)."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.OWNER
    role = (
        RoleAssignment.objects.filter(user_id=user.pk, resource_group_id=group.pk)
        .values_list("role", flat=True)
        .first()
    )
    return Role(role) if role else None


def readable_workspaces(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Workspace]:
    """Active workspaces of active groups that `user` holds any role on."""
    workspaces = Workspace.objects.filter(
        state=ContainerState.ACTIVE, resource_group__state=ContainerState.ACTIVE
    ).select_related("resource_group")
    if not user.is_authenticated or not user.is_active:
        return workspaces.none()
    if user.is_superuser:
        return workspaces
    # Subqueries, not joins: list pages annotate counts on this queryset, which a join on
    # role rows would multiply.
    return workspaces.filter(
        Q(pk__in=_assigned(user, "workspace_id"))
        | Q(resource_group_id__in=_assigned(user, "resource_group_id"))
    )


def _assigned(user: AbstractBaseUser, column: str) -> QuerySet[RoleAssignment]:
    return RoleAssignment.objects.filter(user_id=user.pk, **{f"{column}__isnull": False}).values(
        column
    )


def visible_groups(user: AbstractBaseUser | AnonymousUser) -> QuerySet[ResourceGroup]:
    """Resource groups `user` holds a role on, or a role on one of their workspaces."""
    groups = ResourceGroup.objects.all()
    if not user.is_authenticated or not user.is_active:
        return groups.none()
    if user.is_superuser:
        return groups
    in_workspaces = Workspace.objects.filter(pk__in=_assigned(user, "workspace_id")).values(
        "resource_group_id"
    )
    return groups.filter(Q(pk__in=_assigned(user, "resource_group_id")) | Q(pk__in=in_workspaces))


def require_group_role(
    user: AbstractBaseUser | AnonymousUser, group: ResourceGroup, needed: Role
) -> Role:
    """The user's role on the group itself, if it allows `needed`.

    Someone who cannot see the group is told it does not exist.
    """
    if not visible_groups(user).filter(pk=group.pk).exists():
        raise NotFound(f"There is no resource group named '{group.name}'.")
    role = group_role(user, group)
    if role is None or not role.allows(needed):
        raise PermissionDenied(
            f"This needs the {needed.label} role on resource group '{group.name}'."
        )
    return role


def require_workspace_role(
    user: AbstractBaseUser | AnonymousUser, workspace: Workspace, needed: Role
) -> Role:
    role = role_on_workspace(user, workspace)
    if role is None:
        raise NotFound(
            f"There is no workspace '{workspace.name}' in resource group "
            f"'{workspace.resource_group.name}'."
        )
    if not role.allows(needed):
        raise PermissionDenied(
            f"This needs the {needed.label} role on workspace '{workspace.name}'."
        )
    return role


def owned_jobs(user: AbstractBaseUser | AnonymousUser) -> QuerySet[DeletionJob]:
    """Deletion jobs `user` asked for or whose group or workspace they own (superusers: all)."""
    jobs = DeletionJob.objects.all()
    if user.is_superuser:
        return jobs
    owned = RoleAssignment.objects.filter(user_id=user.pk, role=Role.OWNER)
    owned_groups = owned.filter(resource_group__isnull=False).values("resource_group_id")
    owned_workspaces = Workspace.objects.filter(
        Q(pk__in=owned.filter(workspace__isnull=False).values("workspace_id"))
        | Q(resource_group_id__in=owned_groups)
    ).values("pk")
    # A requester keeps seeing their job after the target (and their role on it) is gone.
    return jobs.filter(
        Q(requested_by_user_id=user.pk)
        | Q(kind=DeletionKind.RESOURCE_GROUP, target_id__in=owned_groups)
        | Q(kind__in=[DeletionKind.WORKSPACE, DeletionKind.PURGE], target_id__in=owned_workspaces)
    )
