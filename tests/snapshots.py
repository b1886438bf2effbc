"""Everything stored for a set of workspaces (rows of every table and artifact files), to
compare before and after a deletion."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db.models import Model

from experiments import models as m
from experiments.storage import artifact_storage, walk_files

# How each table reaches its workspace.
WORKSPACE_PATHS: dict[type[Model], str] = {
    m.Workspace: "pk",
    m.Experiment: "workspace",
    m.ExperimentTag: "experiment__workspace",
    m.Run: "workspace",
    m.Metric: "run__workspace",
    m.MetricChunk: "run__workspace",
    m.LatestMetric: "run__workspace",
    m.Param: "run__workspace",
    m.RunTag: "run__workspace",
    m.Dataset: "experiment__workspace",
    m.RunInput: "run__workspace",
    m.InputTag: "run_input__run__workspace",
    m.RunModelInput: "run__workspace",
    m.RunModelOutput: "run__workspace",
    m.LoggedModel: "workspace",
    m.LoggedModelParam: "model__workspace",
    m.LoggedModelTag: "model__workspace",
    m.LoggedModelMetric: "model__workspace",
}


def rows_of(workspace_ids: list[int]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row reachable from the workspaces, table by table, in a stable order."""
    snapshot = {}
    for model, path in WORKSPACE_PATHS.items():
        values = model.objects.filter(**{f"{path}__in": workspace_ids}).values_list()
        snapshot[model._meta.label] = sorted(values, key=repr)
    return snapshot


def row_counts(workspace_ids: list[int]) -> dict[str, int]:
    return {label: len(rows) for label, rows in rows_of(workspace_ids).items()}


def files_of(workspace_ids: list[int]) -> dict[str, str]:
    """Artifact file name -> sha256 of its content, for every file of the workspaces."""
    storage = artifact_storage()
    files = {}
    for pk in workspace_ids:
        for name, _size in walk_files(storage, f"workspaces/{pk}"):
            with storage.open(name, "rb") as handle:
                files[name] = hashlib.sha256(handle.read()).hexdigest()
    return files


def everything_of(workspace_ids: list[int]) -> dict[str, Any]:
    return {"rows": rows_of(workspace_ids), "files": files_of(workspace_ids)}


def ids_of(workspace_ids: list[int]) -> dict[str, list[int]]:
    """Primary keys of the parents, to look for orphans by foreign key after a deletion."""
    return {
        "workspaces": list(workspace_ids),
        "experiments": list(
            m.Experiment.objects.filter(workspace_id__in=workspace_ids).values_list("pk", flat=True)
        ),
        "runs": list(
            m.Run.objects.filter(workspace_id__in=workspace_ids).values_list("pk", flat=True)
        ),
        "models": list(
            m.LoggedModel.objects.filter(workspace_id__in=workspace_ids).values_list(
                "pk", flat=True
            )
        ),
    }


def leftovers(ids: dict[str, list[int]]) -> dict[str, int]:
    """Rows still referring to any of the parents (by their own foreign key column): {} when
    the deletion left nothing behind."""
    checks = {
        "Workspace": m.Workspace.objects.filter(pk__in=ids["workspaces"]),
        "Experiment": m.Experiment.objects.filter(pk__in=ids["experiments"]),
        "ExperimentTag": m.ExperimentTag.objects.filter(experiment_id__in=ids["experiments"]),
        "Dataset": m.Dataset.objects.filter(experiment_id__in=ids["experiments"]),
        "Run": m.Run.objects.filter(pk__in=ids["runs"]),
        "Metric": m.Metric.objects.filter(run_id__in=ids["runs"]),
        "MetricChunk": m.MetricChunk.objects.filter(run_id__in=ids["runs"]),
        "LatestMetric": m.LatestMetric.objects.filter(run_id__in=ids["runs"]),
        "Param": m.Param.objects.filter(run_id__in=ids["runs"]),
        "RunTag": m.RunTag.objects.filter(run_id__in=ids["runs"]),
        "RunInput": m.RunInput.objects.filter(run_id__in=ids["runs"]),
        "RunModelInput": m.RunModelInput.objects.filter(run_id__in=ids["runs"]),
        "RunModelOutput": m.RunModelOutput.objects.filter(run_id__in=ids["runs"]),
        "LoggedModel": m.LoggedModel.objects.filter(pk__in=ids["models"]),
        "LoggedModelParam": m.LoggedModelParam.objects.filter(model_id__in=ids["models"]),
        "LoggedModelTag": m.LoggedModelTag.objects.filter(model_id__in=ids["models"]),
        "LoggedModelMetric": m.LoggedModelMetric.objects.filter(model_id__in=ids["models"]),
    }
    counts = {name: queryset.count() for name, queryset in checks.items()}
    storage = artifact_storage()
    counts["files"] = sum(
        1 for pk in ids["workspaces"] for _ in walk_files(storage, f"workspaces/{pk}")
    )
    return {name: count for name, count in counts.items() if count}
