"""Celery entry points. Each takes ids and calls one service."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from experiments.services import deletion

# Worth another try: the database or the artifact folder is briefly unavailable or locked.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


class DeletionTask(Task):
    def on_failure(
        self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: Any
    ) -> None:
        # Called once the retries are used up, or at once for an error that is not transient.
        job_id = kwargs.get("job_id", args[0] if args else None)
        if job_id is not None:
            retries = self.request.retries
            tried = f" (after {retries + 1} attempts)" if retries else ""
            deletion.deletion_job_fail(job_id=job_id, reason=f"{type(exc).__name__}{tried}: {exc}")


@shared_task(
    bind=True,
    base=DeletionTask,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=settings.DELETION_MAX_RETRIES,
    retry_backoff=settings.DELETION_RETRY_BACKOFF,
    retry_backoff_max=settings.DELETION_RETRY_BACKOFF_MAX,
    retry_jitter=True,
)
def deletion_job_run(self: Task, job_id: int, step: int) -> str:
    """One step of a deletion job; the service enqueues the next step itself."""
    return deletion.deletion_job_run(job_id=job_id, step=step).value
