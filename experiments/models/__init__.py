from __future__ import annotations

from experiments.models.access import ApiKey, RoleAssignment, TrackingToken
from experiments.models.audit import AuditLog
from experiments.models.deletion import DeletionJob
from experiments.models.experiments import (
    DEFAULT_EXPERIMENT_NAME,
    DEFAULT_EXPERIMENT_WIRE_ID,
    Experiment,
    ExperimentTag,
)
from experiments.models.groups import ResourceGroup, Workspace
from experiments.models.logged_models import (
    LoggedModel,
    LoggedModelMetric,
    LoggedModelParam,
    LoggedModelTag,
    RunModelInput,
    RunModelOutput,
)
from experiments.models.runs import (
    Dataset,
    InputTag,
    LatestMetric,
    Metric,
    MetricChunk,
    MetricHistory,
    MetricRollup,
    Param,
    Run,
    RunInput,
    RunTag,
)

__all__ = [
    "DEFAULT_EXPERIMENT_NAME",
    "DEFAULT_EXPERIMENT_WIRE_ID",
    "ApiKey",
    "AuditLog",
    "Dataset",
    "DeletionJob",
    "Experiment",
    "ExperimentTag",
    "InputTag",
    "LatestMetric",
    "LoggedModel",
    "LoggedModelMetric",
    "LoggedModelParam",
    "LoggedModelTag",
    "Metric",
    "MetricChunk",
    "MetricHistory",
    "MetricRollup",
    "Param",
    "ResourceGroup",
    "RoleAssignment",
    "Run",
    "RunInput",
    "RunModelInput",
    "RunModelOutput",
    "RunTag",
    "TrackingToken",
    "Workspace",
]
