"""Who a request is and what it may see: the one scoping layer for pages and APIs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from django.utils import timezone

from experiments.choices import ContainerState, DeletionKind, Role
from experiments.errors import NotFound, PermissionDenied
from experiments.models import (
    ApiKey,
    DeletionJob,
    ResourceGroup,
    RoleAssignment,
    TrackingToken,
    Workspace,
)

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
    """The principal of an API key or tracking token, or None if unknown, expired or revoked."""
    if not secret:
        return None
    digest = hashlib.sha256(secret.encode()).hexdigest()
    now = timezone.now()
    if secret.startswith("ptt_"):
        token = (
            TrackingToken.objects.select_related("user", "api_key")
            .filter(token_hash=digest, revoked_at__isnull=True, expires_at__gt=now)
            .first()
        )
        if token is None or not token.user.is_active:
            return None
        key = token.api_key
        if key is not None and (key.revoked_at or (key.expires_at and key.expires_at <= now)):
            return None
        return Principal(token.user, token.workspace_id)
    key = (
        ApiKey.objects.select_related("user")
        .filter(key_hash=digest, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if key is None or not key.user.is_active:
        return None
    if key.last_used_at is None or key.last_used_at < now - _LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return Principal(key.user, api_key_id=key.pk)


def role_on_workspace(user: AbstractBaseUser | AnonymousUser, workspace: Workspace) -> Role | None:
    """The strongest role `user` holds on the workspace or its resource group."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.OWNER
    roles = RoleAssignment.objects.filter(
        Q(workspace_id=workspace.pk) | Q(resource_group_id=workspace.resource_group_id),
        user_id=user.pk,
    ).values_list("role", flat=True)
    held = [Role(role) for role in roles]
    return max(held, key=lambda role: role.rank) if held else None


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
