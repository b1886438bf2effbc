"""Deleting resource groups and workspaces, and purging deleted runs (MLflow's `gc`).

A deletion has two halves:

1. The request (`resource_group_delete`, `workspace_delete`, `deleted_objects_purge`), in one
   short transaction: the target is marked `deleting` (its workspaces refuse writes from then
   on), a DeletionJob row is created, the audit log notes who asked, and the job's task is
   enqueued after commit. A broker that cannot be reached does not lose the request: the row
   is committed and the sweeper (`deletion_jobs_requeue`, run by every worker) enqueues it.

2. The work (`deletion_job_run`, called by the Celery task with a job id and a step number).
   A worker claims the step with a conditional UPDATE (same step, no live lease), removes
   objects in bounded units, each its own short transaction that also counts what it removed,
   and after a few seconds hands over to a fresh task message for the next step. Every unit
   looks up what is left instead of remembering it, so a step can be repeated, resumed after a
   crash, or run by two workers at once without harm.

Big tables are never loaded or cascaded in Python: metric history goes in batches of
DELETION_METRIC_BATCH rows (by ctid on PostgreSQL, rowid on SQLite) and every other table with
one DELETE per chunk of parent ids, children first, found from the model graph so that tables
added later are included.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from experiments.choices import AuditAction, ContainerState, DeletionKind, JobState
from experiments.clock import now_ms
from experiments.errors import Conflict, InvalidInput, NotFound
from experiments.models import (
    DeletionJob,
    Experiment,
    LoggedModel,
    LoggedModelMetric,
    Metric,
    MetricChunk,
    ResourceGroup,
    Run,
    Workspace,
)
from experiments.selectors import groups as selectors
from experiments.selectors.groups import Bill
from experiments.services.audit import Actor, audit_record
from experiments.storage import artifact_storage, remove_empty_folders, unlink, walk_files

logger = logging.getLogger(__name__)

# MLflow's reserved workspace: requests without a workspace land there.
RESERVED_WORKSPACE = "default"


# --- Requests ---------------------------------------------------------------------------------


def _check_confirmation(expected: str, typed: str) -> None:
    if typed.strip() != expected:
        raise InvalidInput(
            f"Type the name '{expected}' exactly to confirm; '{typed.strip()}' does not match."
        )


def _active_job(kind: DeletionKind, target_id: int) -> DeletionJob | None:
    return DeletionJob.objects.filter(
        kind=kind, target_id=target_id, state__in=JobState.unfinished()
    ).first()


def _create_job(
    *,
    kind: DeletionKind,
    target_id: int,
    target_name: str,
    actor: Actor,
    purge_before_ms: int | None = None,
) -> DeletionJob:
    job = DeletionJob.objects.create(
        kind=kind,
        target_id=target_id,
        target_name=target_name,
        purge_before_ms=purge_before_ms,
        requested_by=actor.label[:200],
        requested_by_user=actor.user if actor.user is not None and actor.user.pk else None,
    )
    audit_record(
        actor=actor,
        action=AuditAction.DELETION_REQUESTED,
        target_kind=kind,
        target_name=target_name,
        job=job,
    )
    transaction.on_commit(partial(_enqueue_after_commit, job))
    return job


def _enqueue_after_commit(job: DeletionJob) -> None:
    # The caller reads job.enqueue_error to tell the admin when the queue is unreachable.
    if not deletion_job_enqueue(job_id=job.pk, step=job.step):
        job.refresh_from_db(fields=["enqueue_error"])


def resource_group_delete(*, group_name: str, confirm_name: str, actor: Actor) -> DeletionJob:
    """Mark the group and its workspaces deleting and start the job that removes them.

    Asking again while a job is unfinished returns that job.
    """
    with transaction.atomic():
        # Locking the group serialises this with workspace creation in the group.
        group = ResourceGroup.objects.select_for_update().filter(name=group_name).first()
        if group is None:
            raise NotFound(f"Resource group '{group_name}' does not exist.")
        _check_confirmation(group.name, confirm_name)
        if existing := _active_job(DeletionKind.RESOURCE_GROUP, group.pk):
            return existing
        if group.workspaces.filter(name=RESERVED_WORKSPACE).exists():
            raise InvalidInput(
                f"Resource group '{group.name}' holds the reserved '{RESERVED_WORKSPACE}' "
                "workspace, which MLflow clients use when they name no workspace. Delete the "
                "group's other workspaces one by one, or purge deleted runs."
            )
        ResourceGroup.objects.filter(pk=group.pk).update(state=ContainerState.DELETING)
        # Updating the workspace rows waits for in-flight writes, which hold a share lock on
        # their workspace row (workspace_hold_for_write); later writes see `deleting`.
        Workspace.objects.filter(resource_group=group).update(state=ContainerState.DELETING)
        return _create_job(
            kind=DeletionKind.RESOURCE_GROUP,
            target_id=group.pk,
            target_name=group.name,
            actor=actor,
        )


def workspace_delete(
    *, group_name: str, workspace_name: str, confirm_name: str, actor: Actor
) -> DeletionJob:
    """Mark one workspace deleting and start the job that removes it and its data."""
    with transaction.atomic():
        workspace = (
            Workspace.objects.select_for_update()
            .filter(resource_group__name=group_name, name=workspace_name)
            .first()
        )
        if workspace is None:
            raise NotFound(f"Workspace '{group_name}/{workspace_name}' does not exist.")
        _check_confirmation(workspace.name, confirm_name)
        if existing := _active_job(DeletionKind.WORKSPACE, workspace.pk):
            return existing
        if workspace.name == RESERVED_WORKSPACE:
            raise InvalidInput(
                f"The '{RESERVED_WORKSPACE}' workspace is reserved: MLflow clients use it when "
                "they name no workspace. Purge its deleted runs instead."
            )
        group_job = _active_job(DeletionKind.RESOURCE_GROUP, workspace.resource_group_id)
        if group_job is not None:
            raise Conflict(
                f"Resource group '{group_name}' is being deleted (job {group_job.pk}), "
                "workspace included."
            )
        Workspace.objects.filter(pk=workspace.pk).update(state=ContainerState.DELETING)
        return _create_job(
            kind=DeletionKind.WORKSPACE,
            target_id=workspace.pk,
            target_name=f"{group_name}/{workspace.name}",
            actor=actor,
        )


DAY_MS = 86_400_000
PURGE_AGE_MAX_DAYS = 36_500  # a century


def purge_age_ms(days: float) -> int:
    """A purge's age limit (older_than_ms) from a number of days, as the pages, the portal
    API and the command take it: 0 to a century (1e308 days would overflow)."""
    if not 0 <= days <= PURGE_AGE_MAX_DAYS:
        raise InvalidInput(f"The age must be from 0 to {PURGE_AGE_MAX_DAYS:,} days.")
    return int(days * DAY_MS)


def deleted_objects_purge(
    *, group_name: str, workspace_name: str, actor: Actor, older_than_ms: int = 0
) -> DeletionJob:
    """Permanently remove runs, experiments and logged models of a workspace that are in the
    deleted lifecycle stage (deleted at least `older_than_ms` ago), like `mlflow gc`.

    Restoring them is refused from now on (see purge_blocks_restore).
    """
    if older_than_ms < 0:
        raise InvalidInput("older_than must not be negative.")
    with transaction.atomic():
        # The row lock waits for in-flight writes (restores among them) to finish.
        workspace = (
            Workspace.objects.select_for_update()
            .select_related("resource_group")
            .filter(resource_group__name=group_name, name=workspace_name)
            .first()
        )
        if workspace is None:
            raise NotFound(f"Workspace '{group_name}/{workspace_name}' does not exist.")
        if not workspace.is_writable or workspace.resource_group.state != ContainerState.ACTIVE:
            raise Conflict(f"Workspace '{workspace.name}' is being deleted.")
        if existing := _active_job(DeletionKind.PURGE, workspace.pk):
            return existing
        return _create_job(
            kind=DeletionKind.PURGE,
            target_id=workspace.pk,
            target_name=f"{group_name}/{workspace.name}",
            actor=actor,
            purge_before_ms=now_ms() - older_than_ms,
        )


def purge_blocks_restore(*, workspace_id: int, deleted_at_ms: int | None, what: str) -> None:
    """Refuse to restore `what`, deleted at `deleted_at_ms`, if an unfinished purge covers it.

    Restores are MLflow writes, which hold the workspace row (workspace_hold_for_write) while
    deleted_objects_purge locks it, so a restore either commits before the purge starts or
    sees its job here.
    """
    job = (
        DeletionJob.objects.filter(
            kind=DeletionKind.PURGE, target_id=workspace_id, state__in=JobState.unfinished()
        )
        .only("pk", "purge_before_ms")
        .first()
    )
    if job is not None and (deleted_at_ms is None or deleted_at_ms <= (job.purge_before_ms or 0)):
        raise Conflict(
            f"{what} is being permanently deleted (purge job {job.pk}) and cannot be restored."
        )


def deletion_job_retry(*, job_id: int, actor: Actor) -> DeletionJob:
    """Put a failed job back in the queue; it resumes where it stopped."""
    with transaction.atomic():
        job = DeletionJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            raise NotFound(f"Deletion job {job_id} does not exist.")
        if job.state != JobState.FAILED:
            raise Conflict(f"Deletion job {job.pk} is {job.get_state_display()}, not Failed.")
        DeletionJob.objects.filter(pk=job.pk).update(
            state=JobState.PENDING,
            error="",
            attempts=0,
            lease_expires_at=None,
            finished_at=None,
            updated_at=timezone.now(),
        )
        job.refresh_from_db()
        audit_record(
            actor=actor,
            action=AuditAction.DELETION_RETRIED,
            target_kind=job.kind,
            target_name=job.target_name,
            job=job,
        )
        transaction.on_commit(partial(_enqueue_after_commit, job))
    return job


# --- Enqueueing and the sweeper --------------------------------------------------------------


def deletion_job_enqueue(*, job_id: int, step: int) -> bool:
    """Send the task message for a step. False (and the reason kept on the job) when the
    broker cannot be reached: the sweeper sends it later."""
    from experiments.tasks import deletion_job_run as task

    try:
        task.apply_async(args=(job_id, step))
    except Exception as error:  # (any broker failure: the row is the truth)
        logger.warning("Could not enqueue deletion job %s: %s", job_id, error)
        DeletionJob.objects.filter(pk=job_id).update(
            enqueue_error=f"The task queue could not be reached ({error})."[:2000]
        )
        return False
    DeletionJob.objects.filter(pk=job_id).update(enqueued_at=timezone.now(), enqueue_error="")
    return True


def deletion_jobs_requeue() -> int:
    """Enqueue unfinished jobs that nobody works on and that were not enqueued recently.

    Duplicated messages are harmless (the step claim lets one through), so this errs on the
    side of sending.
    """
    now = timezone.now()
    waiting = (
        DeletionJob.objects.filter(state__in=[JobState.PENDING, JobState.RUNNING])
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .filter(
            Q(enqueued_at__isnull=True)
            | Q(enqueued_at__lt=now - timedelta(seconds=settings.DELETION_REQUEUE_SECONDS))
        )
        .values_list("pk", "step")[:100]
    )
    sent = 0
    for job_id, step in waiting:
        sent += deletion_job_enqueue(job_id=job_id, step=step)
    return sent


# --- The work --------------------------------------------------------------------------------


class StepResult(enum.StrEnum):
    GONE = "gone"  # no such job (it was removed, or the message is stale)
    SKIPPED = "skipped"  # another worker holds the step, or it was done already
    CONTINUED = "continued"  # work is left: the next step was enqueued
    FINISHED = "finished"


def _claim(job_id: int, step: int) -> bool:
    now = timezone.now()
    claimed = (
        DeletionJob.objects.filter(
            pk=job_id, step=step, state__in=[JobState.PENDING, JobState.RUNNING]
        )
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            state=JobState.RUNNING,
            lease_expires_at=now + timedelta(seconds=settings.DELETION_LEASE_SECONDS),
            updated_at=now,
        )
    )
    if claimed:
        DeletionJob.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=now)
    return bool(claimed)


def deletion_job_run(*, job_id: int, step: int) -> StepResult:
    """Do one step of a job: claim it, remove objects for about DELETION_STEP_SECONDS, then
    enqueue the next step, or finish the job when nothing is left."""
    if not DeletionJob.objects.filter(pk=job_id).exists():
        return StepResult.GONE
    if not _claim(job_id, step):
        return StepResult.SKIPPED
    job = DeletionJob.objects.get(pk=job_id)
    plan = _plan_for(job)
    deadline = time.monotonic() + settings.DELETION_STEP_SECONDS
    try:
        if not job.surveyed:
            _record_bill(job, plan.survey())
        while True:  # at least one unit per step, however short the step
            if not plan.remove_some():
                return _finish(job)
            if time.monotonic() >= deadline:
                break
            if settings.DELETION_PAUSE_SECONDS:
                time.sleep(settings.DELETION_PAUSE_SECONDS)
    except Exception as error:
        _release_after_error(job_id, step, error)
        raise
    handed_over = DeletionJob.objects.filter(pk=job_id, step=step).update(
        step=step + 1, lease_expires_at=None, updated_at=timezone.now()
    )
    if handed_over:
        deletion_job_enqueue(job_id=job_id, step=step + 1)
    return StepResult.CONTINUED


def _release_after_error(job_id: int, step: int, error: Exception) -> None:
    # Let the task's retry claim the same step at once instead of waiting out the lease.
    try:
        DeletionJob.objects.filter(pk=job_id, step=step).update(
            lease_expires_at=None,
            attempts=F("attempts") + 1,
            error=f"Retrying after: {type(error).__name__}: {error}"[:2000],
            updated_at=timezone.now(),
        )
    except Exception:  # (the database may be what failed; the lease expires)
        logger.warning("Could not release deletion job %s after an error", job_id)


def deletion_job_fail(*, job_id: int, reason: str) -> None:
    """Mark a job failed (the task gave up); its target stays marked deleting.

    The state and its audit entry change together, so nobody sees a failed job without the
    entry that says why."""
    with transaction.atomic():
        failed = DeletionJob.objects.filter(
            pk=job_id, state__in=[JobState.PENDING, JobState.RUNNING]
        ).update(
            state=JobState.FAILED,
            error=reason[:4000],
            lease_expires_at=None,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        if failed:
            job = DeletionJob.objects.get(pk=job_id)
            audit_record(
                actor=Actor.system(),
                action=AuditAction.DELETION_FAILED,
                target_kind=job.kind,
                target_name=job.target_name,
                job=job,
                detail=reason[:4000],
            )


def _record_bill(job: DeletionJob, bill: Bill) -> None:
    # Only the first survey counts: a worker that took over a step may survey after the first
    # one has already removed something, and must not overwrite the totals with smaller ones.
    totals = {f"total_{name}": value for name, value in bill.as_dict().items()}
    DeletionJob.objects.filter(pk=job.pk, total_runs__isnull=True).update(**totals)
    job.refresh_from_db(fields=list(totals))


def _finish(job: DeletionJob) -> StepResult:
    with transaction.atomic():
        finished = DeletionJob.objects.filter(
            pk=job.pk, state__in=[JobState.PENDING, JobState.RUNNING]
        ).update(
            state=JobState.DELETED,
            lease_expires_at=None,
            error="",
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        if finished:
            job.refresh_from_db()
            audit_record(
                actor=Actor.system(),
                action=AuditAction.DELETION_SUCCEEDED,
                target_kind=job.kind,
                target_name=job.target_name,
                job=job,
                detail=_summary(job),
            )
    return StepResult.FINISHED if finished else StepResult.SKIPPED


def _summary(job: DeletionJob) -> str:
    parts = [
        f"{job.deleted_workspaces} workspaces" if job.kind != DeletionKind.PURGE else "",
        f"{job.deleted_experiments} experiments",
        f"{job.deleted_runs} runs",
        f"{job.deleted_logged_models} logged models",
        f"{job.deleted_metric_points} metric points",
        f"{job.deleted_files} files ({job.deleted_bytes} bytes)",
    ]
    return "Removed " + ", ".join(part for part in parts if part) + "."


def _count(job_id: int, **deltas: int) -> None:
    """Add to the job's counters; called inside the transaction that removed the objects."""
    DeletionJob.objects.filter(pk=job_id).update(
        updated_at=timezone.now(),
        **{f"deleted_{name}": F(f"deleted_{name}") + value for name, value in deltas.items()},
    )


# --- Row removal helpers ---------------------------------------------------------------------


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _children(model: type[models.Model]) -> list[models.ForeignObjectRel]:
    """Every foreign key pointing at `model` (also those declared with related_name='+')."""
    return [
        field
        for field in model._meta.get_fields(include_hidden=True)
        if (field.one_to_many or field.one_to_one) and field.auto_created and not field.concrete
    ]


def _delete_where(model: type[models.Model], where: str, params: Sequence[object]) -> int:
    """DELETE the rows of `model` matching `where`, after the rows that refer to them.

    Callers remove big children (metric history) in batches first, so the statements for
    them here find nothing left; the rest are bounded by the caller's chunk of parents.
    """
    table = _quote(model._meta.db_table)
    for relation in _children(model):
        foreign_key = relation.field
        target = _quote(foreign_key.target_field.column)
        selected = f"SELECT {target} FROM {table} WHERE {where}"
        child = relation.related_model
        if relation.on_delete is models.SET_NULL:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {_quote(child._meta.db_table)} SET {_quote(foreign_key.column)} = "
                    f"NULL WHERE {_quote(foreign_key.column)} IN ({selected})",
                    params,
                )
            continue
        _delete_where(child, f"{_quote(foreign_key.column)} IN ({selected})", params)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {where}", params)
        return cursor.rowcount


def _delete_ids(model: type[models.Model], ids: Sequence[int]) -> int:
    placeholders = ", ".join(["%s"] * len(ids))
    return _delete_where(model, f"{_quote(model._meta.pk.column)} IN ({placeholders})", ids)


def _delete_batch(model: type[models.Model], column: str, ids: Sequence[int], limit: int) -> int:
    """DELETE at most `limit` rows of a big table whose `column` is in `ids`."""
    table = _quote(model._meta.db_table)
    column = _quote(column)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("
                f"SELECT ctid FROM {table} WHERE {column} = ANY(%s) LIMIT %s))",
                [list(ids), limit],
            )
        else:
            placeholders = ", ".join(["%s"] * len(ids))
            cursor.execute(
                f"DELETE FROM {table} WHERE rowid IN ("
                f"SELECT rowid FROM {table} WHERE {column} IN ({placeholders}) LIMIT %s)",
                [*ids, limit],
            )
        return cursor.rowcount


_CHUNK_TABLE = MetricChunk._meta.db_table


def _delete_chunks(run_ids: Sequence[int], points: int | None) -> int:
    """DELETE metric chunks of these runs, about `points` points' worth (all with None, at
    least one chunk otherwise); returns the number of points they held."""
    if connection.vendor != "postgresql":
        return 0  # SQLite stores no chunks (see MetricChunk)
    # A chunk holds up to a batch's points of one key: a thousand at most in practice.
    limit = "" if points is None else f" LIMIT {max(1, points // 1000)}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH gone AS (DELETE FROM {_CHUNK_TABLE} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {_CHUNK_TABLE} WHERE run_id = ANY(%s){limit})) RETURNING count) "
            "SELECT coalesce(sum(count), 0) FROM gone",
            [list(run_ids)],
        )
        return int(cursor.fetchone()[0])


# --- Plans: what a job removes, one bounded unit at a time -----------------------------------


class _Plan:
    """Removes the objects of one job in units of bounded size, each in its own transaction.

    `remove_some` does one unit and returns False when nothing is left.
    """

    def __init__(self, job: DeletionJob) -> None:
        self.job = job
        self.storage = artifact_storage()
        self.row_batch = settings.DELETION_ROW_BATCH
        self.metric_batch = settings.DELETION_METRIC_BATCH
        self.file_batch = settings.DELETION_FILE_BATCH

    def survey(self) -> Bill:
        raise NotImplementedError

    def remove_some(self) -> bool:
        raise NotImplementedError

    # Units shared by the plans.

    def _remove_run_chunk(self, runs: models.QuerySet[Run], with_files: bool) -> bool:
        chunk = list(
            runs.order_by("pk").values_list("pk", "workspace_id", "uuid")[: self.row_batch]
        )
        if not chunk:
            return False
        ids = [pk for pk, _ws, _uuid in chunk]
        with transaction.atomic():
            removed = _delete_batch(Metric, "run_id", ids, self.metric_batch)
            if not removed:
                removed = _delete_chunks(ids, self.metric_batch)
            if removed:
                _count(self.job.pk, metric_points=removed)
                return True
            removed = _delete_batch(LoggedModelMetric, "run_id", ids, self.metric_batch)
            if removed:
                return True
        if with_files and self._remove_files(
            selectors.run_prefix(ws, uuid) for _pk, ws, uuid in chunk
        ):
            return True
        with transaction.atomic():
            # Ingest holds a run FOR NO KEY UPDATE while it writes (run_lock_for_ingest): locking
            # the rows first waits for batches under way, whose points the DELETE of the
            # children below then sees (metric history has no foreign key to stop orphans).
            list(Run.objects.filter(pk__in=ids).select_for_update().values_list("pk"))
            # Points that arrived since the batches above (or that another executor's batch
            # left) are counted here, so the job's count stays exact.
            placeholders = ", ".join(["%s"] * len(ids))
            leftover = _delete_where(Metric, f"run_id IN ({placeholders})", ids)
            leftover += _delete_chunks(ids, None)
            _count(self.job.pk, runs=_delete_ids(Run, ids), metric_points=leftover)
        return True

    def _remove_model_chunk(
        self, logged_models: models.QuerySet[LoggedModel], with_files: bool
    ) -> bool:
        chunk = list(
            logged_models.order_by("pk").values_list("pk", "workspace_id", "model_id")[
                : self.row_batch
            ]
        )
        if not chunk:
            return False
        ids = [pk for pk, _ws, _model_id in chunk]
        with transaction.atomic():
            if _delete_batch(LoggedModelMetric, "model_id", ids, self.metric_batch):
                return True
        if with_files and self._remove_files(
            selectors.model_prefix(ws, model_id) for _pk, ws, model_id in chunk
        ):
            return True
        with transaction.atomic():
            _count(self.job.pk, logged_models=_delete_ids(LoggedModel, ids))
        return True

    def _remove_experiment_chunk(self, experiments: models.QuerySet[Experiment]) -> bool:
        ids = list(experiments.order_by("pk").values_list("pk", flat=True)[: self.row_batch])
        if not ids:
            return False
        with transaction.atomic():
            _count(self.job.pk, experiments=_delete_ids(Experiment, ids))
        return True

    def _remove_files(self, prefixes: Iterable[str]) -> bool:
        """Unlink up to DELETION_FILE_BATCH files under the prefixes; False if there were none."""
        budget = self.file_batch
        files = size = 0
        for prefix in prefixes:
            for name, file_size in walk_files(self.storage, prefix):
                if unlink(self.storage, name):
                    files += 1
                    size += file_size
                budget -= 1
                if budget <= 0:
                    break
            if budget <= 0:
                break
            remove_empty_folders(self.storage, prefix)
        if files:
            _count(self.job.pk, files=files, bytes=size)
        return budget < self.file_batch


class _ContainerPlan(_Plan):
    """Removes whole workspaces (those of a group, or one): rows first, then the files of each
    workspace's prefix, then the workspace rows and, for a group, the group row.

    Rows go before files so that no upload can start after a run is gone (the artifact proxy
    looks the run up first); the workspace prefix then holds every file that is left.
    """

    def workspace_ids(self) -> list[int]:
        workspaces = Workspace.objects.all()
        if self.job.kind == DeletionKind.RESOURCE_GROUP:
            workspaces = workspaces.filter(resource_group_id=self.job.target_id)
        else:
            workspaces = workspaces.filter(pk=self.job.target_id)
        return list(workspaces.values_list("pk", flat=True))

    def survey(self) -> Bill:
        return selectors.workspaces_bill(workspace_ids=self.workspace_ids())

    def remove_some(self) -> bool:
        ids = self.workspace_ids()
        if ids:
            return (
                self._remove_run_chunk(Run.objects.filter(workspace_id__in=ids), with_files=False)
                or self._remove_model_chunk(
                    LoggedModel.objects.filter(workspace_id__in=ids), with_files=False
                )
                or self._remove_experiment_chunk(Experiment.objects.filter(workspace_id__in=ids))
                or self._remove_files(selectors.workspace_prefix(pk) for pk in ids)
                or self._remove_workspaces(ids)
            )
        if self.job.kind == DeletionKind.RESOURCE_GROUP:
            with transaction.atomic():
                # Small: the group's workspaces are gone; Django handles any other relation.
                removed, _ = ResourceGroup.objects.filter(pk=self.job.target_id).delete()
            return bool(removed)
        return False

    def _remove_workspaces(self, ids: list[int]) -> bool:
        for pk in ids:
            with transaction.atomic():
                # Everything big is gone; the ORM removes whatever small rows still refer to
                # the workspace (tables other parts of the portal add).
                _, removed = Workspace.objects.filter(pk=pk).delete()
                if removed.get(Workspace._meta.label):
                    _count(self.job.pk, workspaces=1)
        return True


class _PurgePlan(_Plan):
    """Removes what a workspace holds in the deleted lifecycle stage, like `mlflow gc`.

    The workspace stays in use, so each run's and model's files are removed with it.
    """

    @property
    def before_ms(self) -> int:
        return self.job.purge_before_ms or 0

    def survey(self) -> Bill:
        return selectors.purge_bill(workspace_id=self.job.target_id, before_ms=self.before_ms)

    def remove_some(self) -> bool:
        scope = {"workspace_id": self.job.target_id, "before_ms": self.before_ms}
        return (
            self._remove_run_chunk(selectors.purge_runs(**scope), with_files=True)
            or self._remove_model_chunk(selectors.purge_logged_models(**scope), with_files=True)
            or self._remove_experiment_chunk(selectors.purge_experiments(**scope))
        )


def _plan_for(job: DeletionJob) -> _Plan:
    plans: dict[str, Callable[[DeletionJob], _Plan]] = {
        DeletionKind.RESOURCE_GROUP: _ContainerPlan,
        DeletionKind.WORKSPACE: _ContainerPlan,
        DeletionKind.PURGE: _PurgePlan,
    }
    return plans[job.kind](job)
