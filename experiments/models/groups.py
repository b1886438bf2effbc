from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

from experiments.choices import ContainerState

# MLflow's workspace name rule (mlflow.store.workspace.abstract_store.WorkspaceNameValidator).
# The patterns are written for both Python and the OpenAPI schema (ECMA regexes); Python checks
# them with fullmatch, since `$` alone also accepts a trailing newline.
WORKSPACE_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
WORKSPACE_NAME_RE = re.compile(WORKSPACE_NAME_PATTERN)
WORKSPACE_NAME_MIN, WORKSPACE_NAME_MAX = 2, 63
RESERVED_WORKSPACE_NAMES = frozenset({"workspaces", "api", "ajax-api", "static-files"})

# Resource group names follow the cloud convention: letters, digits, _ - . ( ), not ending in '.'.
RESOURCE_GROUP_NAME_PATTERN = r"^[-A-Za-z0-9_.()]{0,89}[-A-Za-z0-9_()]$"
RESOURCE_GROUP_NAME_RE = re.compile(RESOURCE_GROUP_NAME_PATTERN)


def workspace_name_problem(name: str) -> str | None:
    """Why `name` is not a valid workspace name, or None when it is."""
    if not WORKSPACE_NAME_MIN <= len(name) <= WORKSPACE_NAME_MAX:
        return (
            f"Workspace name '{name}' must be between {WORKSPACE_NAME_MIN} and "
            f"{WORKSPACE_NAME_MAX} characters."
        )
    if not WORKSPACE_NAME_RE.fullmatch(name):
        return (
            f"Workspace name '{name}' must contain only lowercase letters, digits and hyphens, "
            "and start and end with a letter or digit."
        )
    if name in RESERVED_WORKSPACE_NAMES:
        return f"Workspace name '{name}' is reserved."
    return None


def resource_group_name_problem(name: str) -> str | None:
    if not RESOURCE_GROUP_NAME_RE.fullmatch(name):
        return (
            f"Resource group name '{name}' must be 1-90 characters of letters, digits, "
            "underscores, hyphens, periods and parentheses, and must not end with a period."
        )
    return None


def validate_workspace_name(name: str) -> None:
    if problem := workspace_name_problem(name):
        raise ValidationError(problem)


def validate_resource_group_name(name: str) -> None:
    if problem := resource_group_name_problem(name):
        raise ValidationError(problem)


class ResourceGroup(models.Model):
    """A named container of workspaces; deleting it is how an admin cleans up everything in it."""

    name = models.CharField(
        max_length=90,
        unique=True,
        validators=[validate_resource_group_name],
    )
    description = models.TextField(blank=True, default="")
    state = models.CharField(
        max_length=16, choices=ContainerState.choices, default=ContainerState.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Workspace(models.Model):
    """A team's tracking space: the unit an MLflow tracking URI points at."""

    resource_group = models.ForeignKey(
        ResourceGroup, on_delete=models.PROTECT, related_name="workspaces"
    )
    # Unique across the portal, so that MLflow's native X-MLFLOW-WORKSPACE header can name it.
    name = models.CharField(max_length=63, unique=True, validators=[validate_workspace_name])
    description = models.TextField(blank=True, default="")
    state = models.CharField(
        max_length=16, choices=ContainerState.choices, default=ContainerState.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            # Workspaces of a group, for the group page and group deletion.
            models.Index(fields=["resource_group", "name"], name="experiments_ws_group_name"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_group.name}/{self.name}"

    @property
    def is_writable(self) -> bool:
        return self.state == ContainerState.ACTIVE

    @property
    def artifact_prefix(self) -> str:
        """Storage prefix holding every artifact of this workspace."""
        return f"workspaces/{self.pk}"
