from __future__ import annotations

from django.conf import settings
from django.db import models

from experiments.choices import AuditAction
from experiments.models.deletion import DeletionJob


class AuditLog(models.Model):
    """One thing that happened to the portal's data and who did it. Append-only."""

    at = models.DateTimeField(auto_now_add=True)
    # "alice", "anonymous", "cli:root" or "system": readable after the user is gone.
    actor = models.CharField(max_length=200)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64, choices=AuditAction.choices)
    target_kind = models.CharField(max_length=32)
    target_name = models.CharField(max_length=200)
    job = models.ForeignKey(
        DeletionJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    # What the action removed or why it failed, in words an admin reads.
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # The audit page: newest first.
            models.Index(fields=["-at", "-id"], name="experiments_auditlog_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target_name}"
