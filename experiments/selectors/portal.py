"""Reads of the browser portal.

Every page reaches tracking data through `visible_workspaces(user)`: the one place that says
what a user may browse. Access control (per-user rules) is added there and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Count, Max, Q, QuerySet

from experiments.choices import ContainerState, LifecycleStage
from experiments.errors import InvalidInput, NotFound
from experiments.models import (
    Experiment,
    LatestMetric,
    Param,
    ResourceGroup,
    Run,
    RunTag,
    Workspace,
)
from experiments.models.experiments import LAST_ACTIVITY
from experiments.selectors import access
from experiments.selectors.name_search import ranked_experiment_ids
from experiments.validation import INT64_MAX

SEARCH_MAX_LENGTH = 200
PARENT_RUN_TAG = "mlflow.parentRunId"
_RUN_UUID = re.compile(r"^[0-9a-f]{32}$")


def visible_groups(user: Any) -> QuerySet[ResourceGroup]:
    """Resource groups `user` may browse: active ones they hold a role in (groups being
    deleted are hidden)."""
    return access.visible_groups(user).filter(state=ContainerState.ACTIVE)


def visible_workspaces(user: Any) -> QuerySet[Workspace]:
    """Workspaces `user` may browse: the scoping root of every page (see selectors.access)."""
    return access.readable_workspaces(user)


def group_get(*, user: Any, name: str) -> ResourceGroup:
    group = visible_groups(user).filter(name=name).first()
    if group is None:
        raise NotFound(f"There is no resource group named '{name}'.")
    return group


def workspace_get(*, user: Any, group: str, name: str) -> Workspace:
    workspace = visible_workspaces(user).filter(resource_group__name=group, name=name).first()
    if workspace is None:
        raise NotFound(f"There is no workspace '{name}' in resource group '{group}'.")
    return workspace


def groups_with_counts(*, user: Any) -> QuerySet[ResourceGroup]:
    visible = Q(workspaces__in=visible_workspaces(user))
    return visible_groups(user).annotate(workspace_count=Count("workspaces", filter=visible))


def workspaces_with_counts(*, user: Any, group: ResourceGroup) -> QuerySet[Workspace]:
    active = Q(experiments__lifecycle_stage=LifecycleStage.ACTIVE)
    return (
        visible_workspaces(user)
        .filter(resource_group=group)
        .annotate(
            experiment_count=Count("experiments", filter=active),
            last_run_time=Max("experiments__last_run_time", filter=active),
        )
        .order_by("name")
    )


@dataclass
class ExperimentHit:
    """An experiment in a list or in search results, with what the list shows about it."""

    experiment: Experiment
    run_count: int = 0
    # The parts of the name before, in and after the match (for highlighting).
    name_parts: tuple[str, str, str] = ("", "", "")

    @property
    def workspace(self) -> Workspace:
        return self.experiment.workspace


def _name_parts(name: str, query: str) -> tuple[str, str, str]:
    match = re.search(re.escape(query), name, re.IGNORECASE) if query else None
    if match is None:
        return (name, "", "")
    return (name[: match.start()], match.group(), name[match.end() :])


def _with_run_counts(experiments: Sequence[Experiment], query: str = "") -> list[ExperimentHit]:
    counts = dict(
        Run.objects.filter(
            experiment_id__in=[e.pk for e in experiments], lifecycle_stage=LifecycleStage.ACTIVE
        )
        .values("experiment_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("experiment_id", "n")
    )
    return [
        ExperimentHit(experiment, counts.get(experiment.pk, 0), _name_parts(experiment.name, query))
        for experiment in experiments
    ]


# What a hit shows of its experiment, workspace and group, in each model's field order (as
# Model.from_db takes them); other fields load on first use.
_HIT_FIELDS = (
    "id",
    "workspace_id",
    "name",
    "is_default",
    "lifecycle_stage",
    "creation_time",
    "last_update_time",
    "last_run_time",
)
_IS_DEFAULT = _HIT_FIELDS.index("is_default")  # SQLite gives 0 or 1
_HIT_WORKSPACE_FIELDS = ("id", "resource_group_id", "name", "state")
_HIT_GROUP_FIELDS = ("id", "name", "state")
_HITS_SQL = (
    f"SELECT {', '.join(f'e.{name}' for name in _HIT_FIELDS)}, "
    f"{', '.join(f'w.{name}' for name in _HIT_WORKSPACE_FIELDS)}, "
    f"{', '.join(f'g.{name}' for name in _HIT_GROUP_FIELDS)}, "
    f"(SELECT COUNT(*) FROM {Run._meta.db_table} r "
    "WHERE r.experiment_id = e.id AND r.lifecycle_stage = %s) "
    f"FROM {Experiment._meta.db_table} e "
    f"JOIN {Workspace._meta.db_table} w ON w.id = e.workspace_id "
    f"JOIN {ResourceGroup._meta.db_table} g ON g.id = w.resource_group_id "
    "WHERE e.id IN ({ids})"
)


def experiment_search(
    *, user: Any, query: str, workspace: Workspace | None = None, limit: int = 20
) -> list[ExperimentHit]:
    """Active experiments whose name contains `query` (any case), closest first.

    Closeness: the whole name, then a prefix, then the start of a word, then anywhere; equally
    close ones most recently active first (selectors/name_search.py).
    """
    text = query.strip()
    if len(text) > SEARCH_MAX_LENGTH:
        raise InvalidInput(f"The search text is too long (at most {SEARCH_MAX_LENGTH} characters).")
    if not text:
        return []
    # The visible workspaces as a list of ids rather than a subquery: a broad search filters
    # thousands of names by it, and an IN list costs less per row than a semi-join.
    workspaces = (
        list(visible_workspaces(user).values_list("id", flat=True))
        if workspace is None
        else [workspace.pk]
    )
    if not workspaces:
        return []
    ids = ranked_experiment_ids(text=text, workspace_ids=workspaces, limit=limit)
    if not ids:
        return []
    # Only the hits are joined to their workspace and group and have their runs counted.
    connection = connections[Experiment.objects.db]
    with connection.cursor() as cursor:
        cursor.execute(
            _HITS_SQL.format(ids=", ".join(["%s"] * len(ids))),
            [LifecycleStage.ACTIVE.value, *ids],
        )
        rows = {row[0]: row for row in cursor.fetchall()}
    return [_hit(connection.alias, rows[pk], text) for pk in ids if pk in rows]


def _hit(alias: str, row: tuple[Any, ...], query: str) -> ExperimentHit:
    """An ExperimentHit from a row of _HITS_SQL."""
    split, end = len(_HIT_FIELDS), len(_HIT_FIELDS) + len(_HIT_WORKSPACE_FIELDS)
    values = list(row[:split])
    values[_IS_DEFAULT] = bool(values[_IS_DEFAULT])
    experiment = Experiment.from_db(alias, _HIT_FIELDS, values)
    experiment.workspace = Workspace.from_db(alias, _HIT_WORKSPACE_FIELDS, row[split:end])
    experiment.workspace.resource_group = ResourceGroup.from_db(
        alias, _HIT_GROUP_FIELDS, row[end:-1]
    )
    return ExperimentHit(experiment, row[-1], _name_parts(experiment.name, query))


def experiments_page(
    *, workspace: Workspace, offset: int, limit: int
) -> tuple[list[ExperimentHit], int]:
    """A page of a workspace's active experiments, most recently active first, and the total."""
    queryset = Experiment.objects.filter(workspace=workspace, lifecycle_stage=LifecycleStage.ACTIVE)
    total = queryset.count()
    experiments = list(queryset.order_by(LAST_ACTIVITY.desc(), "-pk")[offset : offset + limit])
    for experiment in experiments:
        experiment.workspace = workspace
    return _with_run_counts(experiments), total


def experiment_get(*, workspace: Workspace, experiment_id: str) -> Experiment:
    """An experiment of the workspace by its pk (or "0", the workspace's Default)."""
    from experiments.selectors.experiments import experiment_get as by_wire_id

    experiment = by_wire_id(workspace=workspace, experiment_id=experiment_id)
    experiment.workspace = workspace
    return experiment


def run_get(*, workspace: Workspace, run_id: str) -> Run:
    if not _RUN_UUID.match(run_id):
        raise InvalidInput(f"'{run_id[:64]}' is not a run id (32 hexadecimal characters).")
    run = Run.objects.filter(workspace=workspace, uuid=run_id).select_related("experiment").first()
    if run is None:
        raise NotFound(f"There is no run '{run_id}' in workspace '{workspace.name}'.")
    run.workspace = workspace
    run.experiment.workspace = workspace
    return run


def run_locate(*, user: Any, run_id: str) -> Run:
    """A run by id in any workspace the user may browse (for links that name only the run)."""
    if not _RUN_UUID.match(run_id):
        raise InvalidInput(f"'{run_id[:64]}' is not a run id (32 hexadecimal characters).")
    run = (
        Run.objects.filter(uuid=run_id, workspace__in=visible_workspaces(user))
        .select_related("workspace__resource_group", "experiment")
        .first()
    )
    if run is None:
        raise NotFound(f"There is no run '{run_id}' in any workspace you can see.")
    return run


def experiment_locate(*, user: Any, experiment_pk: str) -> Experiment:
    """An experiment by its portal-wide id in any workspace the user may browse."""
    try:
        pk = int(experiment_pk)
    except ValueError:
        raise InvalidInput(f"'{experiment_pk[:64]}' is not an experiment id.") from None
    if not 0 < pk <= INT64_MAX:
        raise NotFound(f"There is no experiment with id {experiment_pk[:64]} that you can see.")
    experiment = (
        Experiment.objects.filter(pk=pk, is_default=False, workspace__in=visible_workspaces(user))
        .select_related("workspace__resource_group")
        .first()
    )
    if experiment is None:
        raise NotFound(f"There is no experiment with id {experiment_pk} that you can see.")
    return experiment


def runs_by_ids(*, workspace: Workspace, run_ids: Sequence[str]) -> list[Run]:
    """The workspace's runs with these ids, in the given order; any unknown id is an error."""
    bad = [run_id for run_id in run_ids if not _RUN_UUID.match(run_id)]
    if bad:
        shown = ", ".join(f"'{run_id[:64]}'" for run_id in bad[:5])
        raise InvalidInput(f"These are not run ids (32 hexadecimal characters): {shown}.")
    found = {
        run.uuid: run
        for run in Run.objects.filter(workspace=workspace, uuid__in=list(run_ids)).select_related(
            "experiment"
        )
    }
    missing = [run_id for run_id in run_ids if run_id not in found]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise NotFound(f"No such runs in workspace '{workspace.name}': {shown}.")
    runs = [found[run_id] for run_id in dict.fromkeys(run_ids)]
    for run in runs:
        run.workspace = workspace
    return runs


def child_counts(*, runs: Sequence[Run]) -> dict[str, int]:
    """How many runs name each of these runs as their parent (by run id)."""
    return dict(
        RunTag.objects.filter(key=PARENT_RUN_TAG, value__in=[run.uuid for run in runs])
        .filter(run__workspace_id__in={run.workspace_id for run in runs})
        .values("value")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("value", "n")
    )


KEYS_LIMIT = 500
# Column choices come from the newest runs: runs of one experiment log the same keys, and
# reading the keys of 10,000 runs' params cost more than the rest of the page.
KEYS_FROM_RUNS = 1000


def experiment_keys(*, experiment: Experiment) -> tuple[list[str], list[str]]:
    """Param keys and metric keys logged by the experiment's newest active runs (sorted)."""
    runs = Run.objects.filter(
        experiment=experiment, lifecycle_stage=LifecycleStage.ACTIVE
    ).order_by("-start_time", "uuid")[:KEYS_FROM_RUNS]
    params = list(
        Param.objects.filter(run__in=runs.values("pk"))
        .values_list("key", flat=True)
        .distinct()
        .order_by("key")[:KEYS_LIMIT]
    )
    metrics = list(
        LatestMetric.objects.filter(run__in=runs.values("pk"))
        .values_list("key", flat=True)
        .distinct()
        .order_by("key")[:KEYS_LIMIT]
    )
    return params, metrics


def runs_keys(*, runs: Sequence[Run]) -> tuple[list[str], list[str]]:
    """Param keys and metric keys logged by any of these runs (sorted)."""
    pks = [run.pk for run in runs]
    params = list(
        Param.objects.filter(run_id__in=pks)
        .values_list("key", flat=True)
        .distinct()
        .order_by("key")
    )
    metrics = list(
        LatestMetric.objects.filter(run_id__in=pks)
        .values_list("key", flat=True)
        .distinct()
        .order_by("key")
    )
    return params, metrics


@dataclass
class RunColumns:
    params: dict[str, str]
    metrics: dict[str, LatestMetric]
    parent_id: str | None = None


def run_columns(
    *, runs: Sequence[Run], params: Sequence[str], metrics: Sequence[str]
) -> dict[int, RunColumns]:
    """The chosen params, latest metric values and parent run id of each run (3 queries)."""
    columns = {run.pk: RunColumns({}, {}) for run in runs}
    pks = list(columns)
    if not pks:
        return columns
    if params:
        for run_pk, key, value in Param.objects.filter(
            run_id__in=pks, key__in=list(params)
        ).values_list("run_id", "key", "value"):
            columns[run_pk].params[key] = value
    if metrics:
        for metric in LatestMetric.objects.filter(run_id__in=pks, key__in=list(metrics)):
            columns[metric.run_id].metrics[metric.key] = metric
    for run_pk, parent in RunTag.objects.filter(run_id__in=pks, key=PARENT_RUN_TAG).values_list(
        "run_id", "value"
    ):
        columns[run_pk].parent_id = parent
    return columns
