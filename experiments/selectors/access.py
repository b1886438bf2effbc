"""Who a request is and what it may see: the one scoping layer for pages and APIs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from django.utils import timezone

from experiments.choices import ContainerState, Role
from experiments.models import ApiKey, ResourceGroup, RoleAssignment, TrackingToken, Workspace

# last_used_at is a hint for the keys page: write it at most this often per key.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller of an API: a user, possibly confined to one workspace."""

    user: AbstractBaseUser
    # Set when the credential is a tracking token: it reaches this workspace only.
    workspace_id: int | None = None


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
    return Principal(key.user)


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
    return workspaces.filter(
        Q(roles__user_id=user.pk) | Q(resource_group__roles__user_id=user.pk)
    ).distinct()
