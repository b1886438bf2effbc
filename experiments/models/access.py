from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from experiments.choices import Role
from experiments.models.groups import ResourceGroup, Workspace


class RoleAssignment(models.Model):
    """A user's role on a resource group (and so on all its workspaces) or on one workspace."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments"
    )
    resource_group = models.ForeignKey(
        ResourceGroup, on_delete=models.CASCADE, null=True, blank=True, related_name="roles"
    )
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="roles"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(resource_group__isnull=True) ^ Q(workspace__isnull=True),
                name="experiments_roleassignment_one_scope",
            ),
            models.UniqueConstraint(
                fields=["user", "resource_group"],
                condition=Q(resource_group__isnull=False),
                name="experiments_roleassignment_unique_group",
            ),
            models.UniqueConstraint(
                fields=["user", "workspace"],
                condition=Q(workspace__isnull=False),
                name="experiments_roleassignment_unique_workspace",
            ),
        ]

    def __str__(self) -> str:
        scope = self.workspace or self.resource_group
        return f"{self.user} is {self.role} of {scope}"


class ApiKey(models.Model):
    """A personal API key: named, revocable, optionally expiring. Only its hash is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    # The first characters of the key, shown in lists so a user can tell keys apart.
    prefix = models.CharField(max_length=16)
    # sha256 of the whole key: keys are 256-bit random, so a fast hash is enough.
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # A user's keys page.
            models.Index(fields=["user", "-created_at"], name="experiments_apikey_user"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class TrackingToken(models.Model):
    """A short-lived token that lets the mlflow client reach one workspace, as one user.

    Minted from an API key (by the SDK, which renews it before it expires) or from a signed-in
    page; revoking the key revokes the tokens minted from it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracking_tokens"
    )
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="tracking_tokens"
    )
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.CASCADE, null=True, blank=True, related_name="tracking_tokens"
    )
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Expired tokens are purged by age.
            models.Index(fields=["expires_at"], name="experiments_token_expires"),
        ]

    def __str__(self) -> str:
        return f"token {self.prefix}… for {self.workspace}"
