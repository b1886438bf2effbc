from __future__ import annotations

from django.db.models import QuerySet

from experiments.choices import ViewType
from experiments.errors import InvalidInput, NotFound
from experiments.models import DEFAULT_EXPERIMENT_WIRE_ID, Experiment, Workspace
from experiments.validation import INT64_MAX


def experiments_in(*, workspace: Workspace) -> QuerySet[Experiment]:
    """The scoping root of every experiment query."""
    return Experiment.objects.filter(workspace=workspace)


def experiment_get(
    *, workspace: Workspace, experiment_id: str, view_type: ViewType = ViewType.ALL
) -> Experiment:
    """The experiment with the id a client uses ("0" is the workspace's Default experiment)."""
    queryset = experiments_in(workspace=workspace).filter(lifecycle_stage__in=view_type.stages)
    if experiment_id == DEFAULT_EXPERIMENT_WIRE_ID:
        queryset = queryset.filter(is_default=True)
    else:
        try:
            pk = int(experiment_id)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer."
            ) from None
        if not 0 < pk <= INT64_MAX:
            raise NotFound(f"No Experiment with id={experiment_id} exists")
        queryset = queryset.filter(pk=pk)
    experiment = queryset.first()
    if experiment is None:
        raise NotFound(f"No Experiment with id={experiment_id} exists")
    return experiment


def experiment_pks(*, workspace: Workspace, experiment_ids: list[str]) -> list[int]:
    """Primary keys of the workspace's experiments among client ids; unknown ids are dropped."""
    pks: set[int] = set()
    want_default = False
    for experiment_id in experiment_ids:
        if experiment_id == DEFAULT_EXPERIMENT_WIRE_ID:
            want_default = True
            continue
        try:
            pk = int(experiment_id)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer."
            ) from None
        if 0 < pk <= INT64_MAX:
            pks.add(pk)
    queryset = experiments_in(workspace=workspace)
    found = set(queryset.filter(pk__in=pks).values_list("pk", flat=True)) if pks else set()
    if want_default:
        found.update(queryset.filter(is_default=True).values_list("pk", flat=True))
    return sorted(found)


def experiment_by_name(*, workspace: Workspace, name: str) -> Experiment | None:
    return experiments_in(workspace=workspace).filter(name=name).first()
