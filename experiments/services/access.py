"""Roles, personal API keys and workspace tracking tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from experiments.choices import Role
from experiments.errors import InvalidInput, PermissionDenied
from experiments.models import ApiKey, ResourceGroup, RoleAssignment, TrackingToken, Workspace
from experiments.selectors.access import role_on_workspace

API_KEY_PREFIX = "pak_"
TRACKING_TOKEN_PREFIX = "ptt_"
_SHOWN_PREFIX_LENGTH = 12


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret(kind_prefix: str) -> str:
    return kind_prefix + secrets.token_urlsafe(32)


def api_key_create(
    *, user: AbstractBaseUser, name: str, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """A new personal API key and its secret, which is shown once and never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("An API key needs a name of 1 to 100 characters.")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("The expiry of an API key must be in the future.")
    secret = _new_secret(API_KEY_PREFIX)
    key = ApiKey.objects.create(
        user=user,
        name=name,
        prefix=secret[:_SHOWN_PREFIX_LENGTH],
        key_hash=secret_hash(secret),
        expires_at=expires_at,
    )
    return key, secret


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoke a key and every tracking token minted from it."""
    now = timezone.now()
    with transaction.atomic():
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
        TrackingToken.objects.filter(api_key=api_key, revoked_at__isnull=True).update(
            revoked_at=now
        )
    api_key.revoked_at = api_key.revoked_at or now


def tracking_token_create(
    *,
    user: AbstractBaseUser,
    workspace: Workspace,
    api_key: ApiKey | None = None,
    lifetime: timedelta | None = None,
) -> tuple[TrackingToken, str]:
    """A token for the mlflow client to reach one workspace as `user`, for a limited time."""
    if role_on_workspace(user, workspace) is None:
        raise PermissionDenied(f"You have no role in workspace '{workspace.name}'.")
    lifetime = lifetime or timedelta(seconds=settings.TRACKING_TOKEN_LIFETIME_SECONDS)
    secret = _new_secret(TRACKING_TOKEN_PREFIX)
    token = TrackingToken.objects.create(
        user=user,
        workspace=workspace,
        api_key=api_key,
        prefix=secret[:_SHOWN_PREFIX_LENGTH],
        token_hash=secret_hash(secret),
        expires_at=timezone.now() + lifetime,
    )
    return token, secret


def tracking_token_revoke(*, token: TrackingToken) -> None:
    TrackingToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def role_assign(
    *,
    user: AbstractBaseUser,
    role: Role,
    workspace: Workspace | None = None,
    resource_group: ResourceGroup | None = None,
) -> RoleAssignment:
    """Give `user` a role on a workspace or a resource group, replacing a role they had there."""
    if (workspace is None) == (resource_group is None):
        raise InvalidInput("A role is given on exactly one workspace or resource group.")
    scope = {"workspace": workspace} if workspace else {"resource_group": resource_group}
    try:
        with transaction.atomic():
            assignment, _ = RoleAssignment.objects.update_or_create(
                user=user, **scope, defaults={"role": role}
            )
    except IntegrityError:
        # A concurrent assignment for the same scope won; apply ours on top of it.
        assignment = RoleAssignment.objects.get(user=user, **scope)
        assignment.role = role
        assignment.save(update_fields=["role"])
    return assignment


def role_remove(
    *,
    user: AbstractBaseUser,
    workspace: Workspace | None = None,
    resource_group: ResourceGroup | None = None,
) -> None:
    scope = {"workspace": workspace} if workspace else {"resource_group": resource_group}
    RoleAssignment.objects.filter(user=user, **scope).delete()
