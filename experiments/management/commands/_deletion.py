"""What the deletion commands share: printing the job, and waiting for it to end."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from experiments.choices import JobState
from experiments.models import DeletionJob


def report_and_wait(command: BaseCommand, job: DeletionJob, *, wait: bool) -> None:
    command.stdout.write(f"Deletion job {job.pk}: {job.get_kind_display()} {job.target_name}")
    if job.enqueue_error:
        command.stderr.write(
            f"Warning: {job.enqueue_error} The job is recorded and starts as soon as a worker "
            "reaches the queue."
        )
    if not wait:
        return
    last = None
    while True:
        job.refresh_from_db()
        line = f"{job.get_state_display()}: {job.percent}%"
        if job.objects_left is not None and job.state != JobState.DELETED:
            line += f", {job.objects_left} objects left"
        if line != last:
            command.stdout.write(line)
            last = line
        if job.state == JobState.DELETED:
            return
        if job.state == JobState.FAILED:
            raise CommandError(f"Deletion job {job.pk} failed: {job.error}")
        time.sleep(1)
