from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import QuerySet

from experiments.choices import LifecycleStage
from experiments.errors import NotFound
from experiments.models import (
    LoggedModel,
    LoggedModelMetric,
    LoggedModelParam,
    LoggedModelTag,
    Workspace,
)


def logged_models_in(*, workspace: Workspace) -> QuerySet[LoggedModel]:
    """The scoping root of every logged-model query."""
    return LoggedModel.objects.filter(workspace=workspace)


def logged_model_get(
    *, workspace: Workspace, model_id: str, allow_deleted: bool = False
) -> LoggedModel:
    queryset = logged_models_in(workspace=workspace).select_related("experiment")
    if not allow_deleted:
        queryset = queryset.exclude(lifecycle_stage=LifecycleStage.DELETED)
    model = queryset.filter(model_id=model_id).first()
    if model is None:
        raise NotFound(f"Logged model with ID '{model_id}' not found.")
    model.workspace = workspace
    return model


@dataclass
class LoggedModelDetails:
    model: LoggedModel
    params: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)
    metrics: list[LoggedModelMetric] = field(default_factory=list)


def logged_models_details(models: Sequence[LoggedModel]) -> list[LoggedModelDetails]:
    """Params, tags and metrics of several models with a fixed number of queries."""
    pks = [model.pk for model in models]
    params: dict[int, list[tuple[str, str]]] = defaultdict(list)
    tags: dict[int, list[tuple[str, str]]] = defaultdict(list)
    metrics: dict[int, list[LoggedModelMetric]] = defaultdict(list)
    if pks:
        for pk, key, value in (
            LoggedModelParam.objects.filter(model_id__in=pks)
            .order_by("key")
            .values_list("model_id", "key", "value")
        ):
            params[pk].append((key, value))
        for pk, key, value in (
            LoggedModelTag.objects.filter(model_id__in=pks)
            .order_by("key")
            .values_list("model_id", "key", "value")
        ):
            tags[pk].append((key, value))
        for metric in (
            LoggedModelMetric.objects.filter(model_id__in=pks)
            .select_related("run")
            .order_by("key", "step", "timestamp")
        ):
            metrics[metric.model_id].append(metric)
    return [
        LoggedModelDetails(model, params[model.pk], tags[model.pk], metrics[model.pk])
        for model in models
    ]
