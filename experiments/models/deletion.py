from __future__ import annotations

from django.conf import settings
from django.db import models

from experiments.choices import DeletionKind, JobState

# Counters a job keeps for each kind of object, in the order the bill lists them.
OBJECT_KINDS = ("workspaces", "experiments", "runs", "logged_models", "metric_points", "files")


class DeletionJob(models.Model):
    """A request to delete a resource group or workspace (or to purge deleted runs), and its
    progress. The row is the source of truth: task messages only say "work on job N, step S".

    The target is held by id and name rather than by foreign key because the job outlives it.
    A worker claims a step with a conditional UPDATE on (step, lease), so a duplicate or stale
    message finds nothing to claim and stops.
    """

    kind = models.CharField(max_length=32, choices=DeletionKind.choices)
    target_id = models.BigIntegerField()
    # "group" or "group/workspace", as the admin typed it; kept after the target is gone.
    target_name = models.CharField(max_length=200)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.PENDING)
    # Purge jobs: runs and experiments deleted at or before this time (ms since the epoch).
    purge_before_ms = models.BigIntegerField(null=True, blank=True)

    # Execution bookkeeping.
    step = models.IntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    enqueue_error = models.TextField(blank=True, default="")
    attempts = models.IntegerField(default=0)
    error = models.TextField(blank=True, default="")

    # The bill of materials, counted when the job starts (None until then).
    total_workspaces = models.BigIntegerField(null=True, blank=True)
    total_experiments = models.BigIntegerField(null=True, blank=True)
    total_runs = models.BigIntegerField(null=True, blank=True)
    total_logged_models = models.BigIntegerField(null=True, blank=True)
    total_metric_points = models.BigIntegerField(null=True, blank=True)
    total_files = models.BigIntegerField(null=True, blank=True)
    total_bytes = models.BigIntegerField(null=True, blank=True)
    # What this job removed; incremented in the transaction that removes it.
    deleted_workspaces = models.BigIntegerField(default=0)
    deleted_experiments = models.BigIntegerField(default=0)
    deleted_runs = models.BigIntegerField(default=0)
    deleted_logged_models = models.BigIntegerField(default=0)
    deleted_metric_points = models.BigIntegerField(default=0)
    deleted_files = models.BigIntegerField(default=0)
    deleted_bytes = models.BigIntegerField(default=0)

    requested_by = models.CharField(max_length=200)
    requested_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One job at a time per target: a second request finds the running one.
            models.UniqueConstraint(
                fields=["kind", "target_id"],
                condition=models.Q(state__in=JobState.unfinished()),
                name="experiments_deletionjob_one_active",
            ),
        ]
        indexes = [
            # The sweeper's scan of unfinished jobs that may have lost their task message.
            models.Index(fields=["state", "enqueued_at"], name="experiments_deljob_sweep"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.target_name} ({self.get_state_display()})"

    @property
    def is_finished(self) -> bool:
        return self.state == JobState.DELETED

    @property
    def surveyed(self) -> bool:
        return self.total_runs is not None

    @property
    def objects_total(self) -> int | None:
        if not self.surveyed:
            return None
        return sum(getattr(self, f"total_{kind}") or 0 for kind in OBJECT_KINDS)

    @property
    def objects_deleted(self) -> int:
        return sum(getattr(self, f"deleted_{kind}") for kind in OBJECT_KINDS)

    @property
    def objects_left(self) -> int | None:
        if self.state == JobState.DELETED:
            return 0
        total = self.objects_total
        return None if total is None else max(total - self.objects_deleted, 0)

    @property
    def percent(self) -> float:
        if self.state == JobState.DELETED:
            return 100.0
        total = self.objects_total
        if not total:
            return 0.0
        # Never 100 before the job says it is done: the last step removes the containers.
        return min(99.9, round(100.0 * self.objects_deleted / total, 1))
