from __future__ import annotations

import math

from django.db import models

from experiments.choices import LifecycleStage, LoggedModelStatus
from experiments.models.experiments import Experiment
from experiments.models.groups import Workspace
from experiments.models.runs import MAX_KEY_LENGTH, Run


class LoggedModel(models.Model):
    """A model saved by `mlflow.<flavor>.log_model`, with its own artifacts, params and tags."""

    model_id = models.CharField(max_length=64, unique=True)
    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="logged_models"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=500)
    # The run that produced the model, as MLflow records it (the run may be purged later).
    source_run_id = models.CharField(max_length=32, blank=True, default="")
    model_type = models.CharField(max_length=500, blank=True, default="")
    status = models.CharField(
        max_length=32, choices=LoggedModelStatus.choices, default=LoggedModelStatus.PENDING
    )
    status_message = models.TextField(blank=True, default="")
    lifecycle_stage = models.CharField(
        max_length=16, choices=LifecycleStage.choices, default=LifecycleStage.ACTIVE
    )
    creation_timestamp_ms = models.BigIntegerField()
    last_updated_timestamp_ms = models.BigIntegerField()
    artifact_uri = models.CharField(max_length=200)

    class Meta:
        indexes = [
            # search_logged_models' default order within an experiment.
            models.Index(
                fields=["experiment", "lifecycle_stage", "-creation_timestamp_ms"],
                name="experiments_lm_exp_created",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def artifact_prefix(self) -> str:
        return f"{self.workspace.artifact_prefix}/models/{self.model_id}"


class LoggedModelParam(models.Model):
    model = models.ForeignKey(LoggedModel, on_delete=models.CASCADE, related_name="params")
    key = models.CharField(max_length=MAX_KEY_LENGTH)
    value = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "key"], name="experiments_lmparam_unique"),
        ]


class LoggedModelTag(models.Model):
    model = models.ForeignKey(LoggedModel, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=MAX_KEY_LENGTH)
    value = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "key"], name="experiments_lmtag_unique"),
        ]


class LoggedModelMetric(models.Model):
    """A metric point logged with a model_id (and optionally the dataset it was computed on)."""

    model = models.ForeignKey(LoggedModel, on_delete=models.CASCADE, related_name="metrics")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+", null=True)
    key = models.CharField(max_length=MAX_KEY_LENGTH)
    timestamp = models.BigIntegerField()
    step = models.BigIntegerField()
    value = models.FloatField()
    is_nan = models.BooleanField()
    dataset_name = models.CharField(max_length=500, blank=True, default="")
    dataset_digest = models.CharField(max_length=36, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "model",
                    "key",
                    "timestamp",
                    "step",
                    "value",
                    "is_nan",
                    "dataset_name",
                    "dataset_digest",
                ],
                name="experiments_lmmetric_unique_point",
            ),
        ]

    @property
    def real_value(self) -> float:
        return math.nan if self.is_nan else self.value


class RunModelInput(models.Model):
    """A logged model a run consumed (log_inputs with models)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="model_inputs")
    model_id = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "model_id"], name="experiments_runmodelinput_unique"
            ),
        ]


class RunModelOutput(models.Model):
    """A logged model a run produced, at a step (log_outputs)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="model_outputs")
    model_id = models.CharField(max_length=64)
    step = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "model_id", "step"], name="experiments_runmodeloutput_unique"
            ),
        ]
