"""Enumerations of the domain. Values are the strings MLflow uses on the wire."""

from __future__ import annotations

from django.db import models


class LifecycleStage(models.TextChoices):
    ACTIVE = "active", "Active"
    DELETED = "deleted", "Deleted"


class RunStatus(models.TextChoices):
    RUNNING = "RUNNING", "Running"
    SCHEDULED = "SCHEDULED", "Scheduled"
    FINISHED = "FINISHED", "Finished"
    FAILED = "FAILED", "Failed"
    KILLED = "KILLED", "Killed"


class ViewType(models.TextChoices):
    """Which lifecycle stages a search covers."""

    ACTIVE_ONLY = "ACTIVE_ONLY", "Active only"
    DELETED_ONLY = "DELETED_ONLY", "Deleted only"
    ALL = "ALL", "All"

    @property
    def stages(self) -> list[str]:
        return {
            ViewType.ACTIVE_ONLY: [LifecycleStage.ACTIVE],
            ViewType.DELETED_ONLY: [LifecycleStage.DELETED],
            ViewType.ALL: [LifecycleStage.ACTIVE, LifecycleStage.DELETED],
        }[self]


class LoggedModelStatus(models.TextChoices):
    PENDING = "LOGGED_MODEL_PENDING", "Pending"
    READY = "LOGGED_MODEL_READY", "Ready"
    UPLOAD_FAILED = "LOGGED_MODEL_UPLOAD_FAILED", "Upload failed"


class ContainerState(models.TextChoices):
    """State of a resource group or workspace: deleting ones refuse writes."""

    ACTIVE = "active", "Active"
    DELETING = "deleting", "Deleting"


class Role(models.TextChoices):
    """What a user may do in a resource group or workspace; each role includes the ones above."""

    READER = "reader", "Reader"
    CONTRIBUTOR = "contributor", "Contributor"
    OWNER = "owner", "Owner"

    @property
    def rank(self) -> int:
        return _ROLE_RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_ROLE_RANKS = {Role.READER: 1, Role.CONTRIBUTOR: 2, Role.OWNER: 3}


class DeletionKind(models.TextChoices):
    """What a deletion job removes."""

    RESOURCE_GROUP = "resource_group", "Resource group"
    WORKSPACE = "workspace", "Workspace"
    # MLflow's `gc`: runs and experiments already in the deleted lifecycle stage.
    PURGE = "purge", "Purge of deleted runs and experiments"


class JobState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DELETED = "deleted", "Deleted"
    FAILED = "failed", "Failed"

    @classmethod
    def unfinished(cls) -> list[str]:
        """States in which a job still owns its target (a failed job waits for a retry)."""
        return [cls.PENDING, cls.RUNNING, cls.FAILED]


class AuditAction(models.TextChoices):
    DELETION_REQUESTED = "deletion.requested", "Deletion requested"
    DELETION_RETRIED = "deletion.retried", "Deletion retried"
    DELETION_SUCCEEDED = "deletion.succeeded", "Deletion finished"
    DELETION_FAILED = "deletion.failed", "Deletion failed"
