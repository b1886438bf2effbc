from __future__ import annotations

from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce, Lower

from experiments.choices import LifecycleStage
from experiments.models.groups import Workspace

DEFAULT_EXPERIMENT_NAME = "Default"
# When an experiment was last active: its newest run's start, or its creation.
LAST_ACTIVITY = Coalesce(F("last_run_time"), F("creation_time"))
# MLflow clients address a workspace's Default experiment as "0".
DEFAULT_EXPERIMENT_WIRE_ID = "0"


class Experiment(models.Model):
    """A named collection of runs inside a workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=500)
    is_default = models.BooleanField(default=False)
    lifecycle_stage = models.CharField(
        max_length=16, choices=LifecycleStage.choices, default=LifecycleStage.ACTIVE
    )
    # Milliseconds since the epoch, as MLflow reports them.
    creation_time = models.BigIntegerField()
    last_update_time = models.BigIntegerField()
    # Start time of the newest run (ms), kept by run_create: the portal lists and ranks
    # experiments by activity without reading their runs.
    last_run_time = models.BigIntegerField(null=True, blank=True)
    # The name in lower case, kept by the database for the portal's search by name: on
    # PostgreSQL a trigram index on it (migration 0007) answers `LIKE '%text%'` without
    # folding the case of every candidate, which halves the cost of a broad search.
    name_lower = models.GeneratedField(
        expression=Lower("name"), output_field=models.TextField(), db_persist=True
    )

    class Meta:
        constraints = [
            # MLflow keeps names unique including deleted experiments (they can be restored).
            models.UniqueConstraint(
                fields=["workspace", "name"], name="experiments_experiment_unique_name"
            ),
            models.UniqueConstraint(
                fields=["workspace"],
                condition=models.Q(is_default=True),
                name="experiments_experiment_one_default",
            ),
        ]
        indexes = [
            # search_experiments' default order within a workspace.
            models.Index(
                fields=["workspace", "-creation_time", "id"],
                name="experiments_exp_ws_created",
            ),
            # The workspace page: a workspace's experiments, most recently active first.
            models.Index(
                F("workspace"),
                F("lifecycle_stage"),
                LAST_ACTIVITY.desc(),
                name="experiments_exp_ws_activity",
            ),
            # The search by name: active experiments in the order that ranks equally close
            # matches, newest first (selectors/name_search.py reads the first as a window).
            models.Index(
                LAST_ACTIVITY.desc(),
                F("id").desc(),
                condition=models.Q(lifecycle_stage=LifecycleStage.ACTIVE),
                name="experiments_exp_active_recent",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def wire_id(self) -> str:
        """The id MLflow clients see: "0" for the workspace's Default experiment."""
        return DEFAULT_EXPERIMENT_WIRE_ID if self.is_default else str(self.pk)

    @property
    def artifact_location(self) -> str:
        return f"mlflow-artifacts:/{self.wire_id}"

    @property
    def is_active(self) -> bool:
        return self.lifecycle_stage == LifecycleStage.ACTIVE


class ExperimentTag(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=250)
    value = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "key"], name="experiments_experimenttag_unique_key"
            ),
        ]
