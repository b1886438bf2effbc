from __future__ import annotations

import math

from django.contrib.postgres.fields import ArrayField
from django.db import models

from experiments.choices import LifecycleStage, RunStatus
from experiments.models.experiments import Experiment
from experiments.models.groups import Workspace

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
# Bucket widths (2**level steps) of the metric rollups: 32 to 2**20 steps, a factor 32 apart.
# Every level costs upserts on every ingested batch (one row per key at the coarse levels), so
# there are few; charts merge up to 32 adjacent buckets of the level below the one they need.
ROLLUP_LEVELS = (5, 10, 15, 20)


class Run(models.Model):
    """One execution of training code, carrying its metrics, params, tags, inputs and artifacts."""

    uuid = models.CharField(max_length=32, unique=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="runs")
    # Denormalised from the experiment: every API lookup is scoped by workspace, and bulk
    # deletion of a workspace or group selects runs without a join.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="runs")
    name = models.CharField(max_length=MAX_TAG_VALUE_LENGTH, blank=True, default="")
    user_id = models.CharField(max_length=256, blank=True, default="")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    # Milliseconds since the epoch.
    start_time = models.BigIntegerField()
    end_time = models.BigIntegerField(null=True, blank=True)
    lifecycle_stage = models.CharField(
        max_length=16, choices=LifecycleStage.choices, default=LifecycleStage.ACTIVE
    )
    deleted_time = models.BigIntegerField(null=True, blank=True)
    artifact_uri = models.CharField(max_length=200)

    class Meta:
        indexes = [
            # search_runs' default order (start_time DESC, run_id) within an experiment.
            models.Index(
                fields=["experiment", "lifecycle_stage", "-start_time", "uuid"],
                name="experiments_run_exp_started",
            ),
            # mlflow gc / purge: deleted runs by deletion time.
            models.Index(
                fields=["workspace", "lifecycle_stage", "deleted_time"],
                name="experiments_run_ws_deleted",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.uuid

    @property
    def is_active(self) -> bool:
        return self.lifecycle_stage == LifecycleStage.ACTIVE

    # True on an instance read by run_hold_for_ingest: its transaction holds the row already.
    held_for_ingest = False

    @property
    def artifact_prefix(self) -> str:
        """Storage prefix under which this run's artifact files live."""
        return f"{self.workspace.artifact_prefix}/runs/{self.uuid}"


class Metric(models.Model):
    """One logged point of a metric's history.

    The primary key is the point itself, as in MLflow: replaying a logged point (the client
    retries) stores nothing new, while a different value at the same step is a new point.
    NaN is stored as value 0 with is_nan set, because SQLite cannot store NaN.

    No foreign-key constraint: checking it for each of a batch's thousand rows was a fifth of
    the cost of ingest. Rows still never outlive their run: ingest holds the run row (FOR NO
    KEY UPDATE, run_lock_for_ingest) while it inserts, and deletion locks run rows FOR UPDATE
    before it removes their last points and the runs themselves, in one transaction.

    On PostgreSQL, large batches of new points are stored as MetricChunk rows instead; read
    MetricHistory for every stored point.
    """

    pk = models.CompositePrimaryKey("run_id", "key", "timestamp", "step", "value", "is_nan")
    # The primary key starts with run_id, so no separate index is needed.
    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, db_index=False, db_constraint=False, related_name="+"
    )
    key = models.CharField(max_length=MAX_KEY_LENGTH)
    timestamp = models.BigIntegerField()
    step = models.BigIntegerField()
    value = models.FloatField()
    is_nan = models.BooleanField()

    @property
    def real_value(self) -> float:
        return math.nan if self.is_nan else self.value


class MetricChunk(models.Model):
    """The points of one key from one large log-batch, as arrays in step order (PostgreSQL).

    A row per point costs PostgreSQL a heap tuple and a primary-key entry each: for a batch of
    1,000 points that was 2.8 ms of the 7 ms the request took. Ten rows of arrays cost 1.1 ms.
    Ingest stores a batch this way only when no point of it can be stored already (each key's
    steps are distinct and past the latest stored step of that key, read under the run's
    lock), so a chunk never repeats a point; any other batch goes to Metric, which skips the
    points it finds in chunks. Chunks of a key never overlap in steps.

    SQLite has no arrays: there ingest always writes Metric rows and this table stays empty.
    """

    pk = models.CompositePrimaryKey("run_id", "key", "step_lo")
    # The primary key starts with run_id, so no separate index is needed.
    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, db_index=False, db_constraint=False, related_name="+"
    )
    key = models.CharField(max_length=MAX_KEY_LENGTH)
    step_lo = models.BigIntegerField()
    step_hi = models.BigIntegerField()
    timestamp_lo = models.BigIntegerField()
    timestamp_hi = models.BigIntegerField()
    count = models.IntegerField()
    steps = ArrayField(models.BigIntegerField())
    timestamps = ArrayField(models.BigIntegerField())
    values = ArrayField(models.FloatField())
    nans = ArrayField(models.BooleanField())


class MetricHistory(models.Model):
    """Every stored point of every series: Metric rows and the points of MetricChunk rows.

    A database view (migration 0009), read-only. History pages, charts, counts and deletion
    progress read points through it, so they need not know how a point was stored.
    """

    pk = models.CompositePrimaryKey("run_id", "key", "timestamp", "step", "value", "is_nan")
    # A plain column, not a foreign key: deletion removes a run's children through its
    # foreign keys, and a view is not one of them.
    run_id = models.BigIntegerField()
    key = models.CharField(max_length=MAX_KEY_LENGTH)
    timestamp = models.BigIntegerField()
    step = models.BigIntegerField()
    value = models.FloatField()
    is_nan = models.BooleanField()

    class Meta:
        managed = False
        db_table = "experiments_metrichistory"

    @property
    def real_value(self) -> float:
        return math.nan if self.is_nan else self.value


class MetricRollup(models.Model):
    """A summary of a metric's points whose steps share one bucket of 2**level steps.

    Kept current at ingest for every level in ROLLUP_LEVELS, so a chart of a series with
    millions of points reads a few thousand summaries instead of the points. It keeps what a
    faithful line needs: the count, the step and time extent, and the first, last, lowest and
    highest point (value with its step and timestamp). NaN points are left out (charts skip
    them).

    No foreign-key constraint, as for Metric: a large batch inserts dozens of summaries, and
    PostgreSQL checked each one against the run at commit. Ingest holds the run while it
    writes them, and deletion removes them with the run (under its lock).
    """

    pk = models.CompositePrimaryKey("run_id", "key", "level", "bucket")
    # The primary key starts with run_id, so no separate index is needed.
    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, db_index=False, db_constraint=False, related_name="+"
    )
    key = models.CharField(max_length=MAX_KEY_LENGTH)
    level = models.SmallIntegerField()
    # step >> level: buckets are aligned, so a coarser level is a merge of finer ones.
    bucket = models.BigIntegerField()
    count = models.BigIntegerField()
    step_lo = models.BigIntegerField()
    step_hi = models.BigIntegerField()
    timestamp_lo = models.BigIntegerField()
    timestamp_hi = models.BigIntegerField()
    min_value = models.FloatField()
    min_step = models.BigIntegerField()
    min_timestamp = models.BigIntegerField()
    max_value = models.FloatField()
    max_step = models.BigIntegerField()
    max_timestamp = models.BigIntegerField()
    # The first point by (step, timestamp) is at step_lo, the last at step_hi.
    first_value = models.FloatField()
    first_timestamp = models.BigIntegerField()
    last_value = models.FloatField()
    last_timestamp = models.BigIntegerField()


class LatestMetric(models.Model):
    """The newest point per (run, key), by (step, timestamp, value): what get_run and search use.

    Kept current in the same transaction as the history insert.
    """

    pk = models.CompositePrimaryKey("run_id", "key")
    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, db_index=False, related_name="latest_metrics"
    )
    key = models.CharField(max_length=MAX_KEY_LENGTH)
    timestamp = models.BigIntegerField()
    step = models.BigIntegerField()
    value = models.FloatField()
    is_nan = models.BooleanField()

    @property
    def real_value(self) -> float:
        return math.nan if self.is_nan else self.value


class Param(models.Model):
    """An immutable key/value logged on a run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="params")
    key = models.CharField(max_length=MAX_KEY_LENGTH)
    value = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "key"], name="experiments_param_unique_key"),
        ]


class RunTag(models.Model):
    """A mutable key/value on a run; `mlflow.*` keys carry the client's own metadata."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=MAX_KEY_LENGTH)
    value = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "key"], name="experiments_runtag_unique_key"),
        ]


class Dataset(models.Model):
    """A dataset as MLflow describes it (name, digest, source), shared by runs of an experiment."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=500)
    digest = models.CharField(max_length=36)
    source_type = models.CharField(max_length=36)
    source = models.TextField()
    schema = models.TextField(blank=True, default="")
    profile = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "name", "digest"], name="experiments_dataset_unique"
            ),
        ]


class RunInput(models.Model):
    """A dataset used by a run, with input tags such as its context (training, eval ...)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="dataset_inputs")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="run_inputs")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "dataset"], name="experiments_runinput_unique"),
        ]


class InputTag(models.Model):
    run_input = models.ForeignKey(RunInput, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=255)
    value = models.CharField(max_length=500)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run_input", "key"], name="experiments_inputtag_unique_key"
            ),
        ]
