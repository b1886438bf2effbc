"""Reads about resource groups and workspaces: listings with counts, and the bill of materials
of a deletion (what it would remove), which the confirmation page shows as a dry run."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from experiments.choices import ContainerState, LifecycleStage
from experiments.errors import NotFound
from experiments.models import (
    Experiment,
    LoggedModel,
    Metric,
    MetricChunk,
    ResourceGroup,
    Run,
    Workspace,
)
from experiments.storage import artifact_storage, usage


@dataclass(frozen=True)
class Bill:
    """What a deletion removes (or a group or workspace holds)."""

    workspaces: int = 0
    experiments: int = 0
    runs: int = 0
    logged_models: int = 0
    metric_points: int = 0
    files: int = 0
    bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _count_of(queryset: QuerySet, group_by: str) -> Coalesce:
    """A correlated COUNT subquery, so that several counts annotate one list query."""
    counted = queryset.order_by().values(group_by).annotate(n=Count("*")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def groups_with_counts() -> QuerySet[ResourceGroup]:
    """Every resource group with its numbers of workspaces, experiments and runs."""
    return ResourceGroup.objects.annotate(
        workspace_count=_count_of(
            Workspace.objects.filter(resource_group=OuterRef("pk")), "resource_group"
        ),
        experiment_count=_count_of(
            Experiment.objects.filter(workspace__resource_group=OuterRef("pk")),
            "workspace__resource_group",
        ),
        run_count=_count_of(
            Run.objects.filter(workspace__resource_group=OuterRef("pk")),
            "workspace__resource_group",
        ),
    ).order_by("name")


def workspaces_with_counts() -> QuerySet[Workspace]:
    """Every workspace (with its group) and its numbers of experiments and runs."""
    return (
        Workspace.objects.select_related("resource_group")
        .annotate(
            experiment_count=_count_of(
                Experiment.objects.filter(workspace=OuterRef("pk")), "workspace"
            ),
            run_count=_count_of(Run.objects.filter(workspace=OuterRef("pk")), "workspace"),
        )
        .order_by("name")
    )


def browsable_groups() -> QuerySet[ResourceGroup]:
    """Groups the browsing pages show: a group being deleted has left them."""
    return ResourceGroup.objects.filter(state=ContainerState.ACTIVE)


def browsable_workspaces() -> QuerySet[Workspace]:
    return Workspace.objects.filter(
        state=ContainerState.ACTIVE, resource_group__state=ContainerState.ACTIVE
    )


def group_get(*, name: str) -> ResourceGroup:
    group = ResourceGroup.objects.filter(name=name).first()
    if group is None:
        raise NotFound(f"Resource group '{name}' does not exist.")
    return group


def workspace_get(*, group_name: str, name: str) -> Workspace:
    workspace = (
        Workspace.objects.select_related("resource_group")
        .filter(resource_group__name=group_name, name=name)
        .first()
    )
    if workspace is None:
        raise NotFound(f"Workspace '{group_name}/{name}' does not exist.")
    return workspace


def _files(prefixes: Iterable[str]) -> tuple[int, int]:
    storage = artifact_storage()
    files = size = 0
    for prefix in prefixes:
        prefix_files, prefix_bytes = usage(storage, prefix)
        files += prefix_files
        size += prefix_bytes
    return files, size


def workspace_prefix(workspace_id: int) -> str:
    # The same layout as Workspace.artifact_prefix, for workspaces known only by id.
    return f"workspaces/{workspace_id}"


def _metric_points(runs: QuerySet[Run]) -> int:
    """Stored metric points of these runs: point rows, and the points of chunks (each chunk
    row says how many it holds, so they are not unnested to be counted)."""
    run_ids = runs.values("pk")
    in_chunks = MetricChunk.objects.filter(run_id__in=run_ids).aggregate(points=Sum("count"))
    return Metric.objects.filter(run_id__in=run_ids).count() + (in_chunks["points"] or 0)


def workspaces_bill(*, workspace_ids: list[int]) -> Bill:
    """Everything held by these workspaces, files included."""
    runs = Run.objects.filter(workspace_id__in=workspace_ids)
    files, size = _files(workspace_prefix(pk) for pk in workspace_ids)
    return Bill(
        workspaces=len(workspace_ids),
        experiments=Experiment.objects.filter(workspace_id__in=workspace_ids).count(),
        runs=runs.count(),
        logged_models=LoggedModel.objects.filter(workspace_id__in=workspace_ids).count(),
        metric_points=_metric_points(runs),
        files=files,
        bytes=size,
    )


def group_bill(*, group: ResourceGroup) -> Bill:
    ids = list(group.workspaces.values_list("pk", flat=True))
    return workspaces_bill(workspace_ids=ids)


# --- Purge (MLflow's gc): what is already in the deleted lifecycle stage ----------------------


def purge_experiments(*, workspace_id: int, before_ms: int) -> QuerySet[Experiment]:
    """Deleted experiments of a workspace, last changed at or before `before_ms`.

    The Default experiment stays: MLflow clients address it as "0" in every workspace.
    """
    return Experiment.objects.filter(
        workspace_id=workspace_id,
        lifecycle_stage=LifecycleStage.DELETED,
        last_update_time__lte=before_ms,
        is_default=False,
    )


def purge_runs(*, workspace_id: int, before_ms: int) -> QuerySet[Run]:
    """Deleted runs deleted at or before `before_ms`, and every run of a purged experiment."""
    deleted_in_time = Q(lifecycle_stage=LifecycleStage.DELETED) & (
        Q(deleted_time__isnull=True) | Q(deleted_time__lte=before_ms)
    )
    in_purged_experiment = Q(
        experiment__in=purge_experiments(workspace_id=workspace_id, before_ms=before_ms)
    )
    return Run.objects.filter(workspace_id=workspace_id).filter(
        deleted_in_time | in_purged_experiment
    )


def purge_logged_models(*, workspace_id: int, before_ms: int) -> QuerySet[LoggedModel]:
    deleted_in_time = Q(lifecycle_stage=LifecycleStage.DELETED) & Q(
        last_updated_timestamp_ms__lte=before_ms
    )
    in_purged_experiment = Q(
        experiment__in=purge_experiments(workspace_id=workspace_id, before_ms=before_ms)
    )
    return LoggedModel.objects.filter(workspace_id=workspace_id).filter(
        deleted_in_time | in_purged_experiment
    )


def run_prefix(workspace_id: int, run_uuid: str) -> str:
    return f"{workspace_prefix(workspace_id)}/runs/{run_uuid}"


def model_prefix(workspace_id: int, model_id: str) -> str:
    return f"{workspace_prefix(workspace_id)}/models/{model_id}"


def purge_bill(*, workspace_id: int, before_ms: int) -> Bill:
    runs = purge_runs(workspace_id=workspace_id, before_ms=before_ms)
    models = purge_logged_models(workspace_id=workspace_id, before_ms=before_ms)
    run_uuids = runs.values_list("uuid", flat=True).iterator(chunk_size=2000)
    model_ids = models.values_list("model_id", flat=True).iterator(chunk_size=2000)
    files, size = _files(
        itertools.chain(
            (run_prefix(workspace_id, uuid) for uuid in run_uuids),
            (model_prefix(workspace_id, model_id) for model_id in model_ids),
        )
    )
    return Bill(
        experiments=purge_experiments(workspace_id=workspace_id, before_ms=before_ms).count(),
        runs=runs.count(),
        logged_models=models.count(),
        metric_points=_metric_points(runs),
        files=files,
        bytes=size,
    )
