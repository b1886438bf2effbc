"""The portal's Celery application. Tasks live in each app's tasks.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _create_queue_folders(sender: Celery, **_: Any) -> None:
    # kombu's filesystem transport (the embedded default) needs its folders to exist.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if folder := options.get(key):
            Path(folder).mkdir(parents=True, exist_ok=True)


class DeletionSweeper(bootsteps.StartStopStep):
    """Enqueues unfinished deletion jobs that have no live task message.

    Runs when the worker connects to the broker (at start and after every reconnect) and then
    periodically, so a job whose message was lost (broker down when it was requested, worker
    killed mid-step, filesystem broker that drops a message on delivery) is always picked up.
    """

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, consumer: Any, **kwargs: Any) -> None:
        super().__init__(consumer, **kwargs)
        self.timer_entry: Any = None

    def start(self, consumer: Any) -> None:
        from django.conf import settings

        self.sweep()
        self.timer_entry = consumer.timer.call_repeatedly(
            settings.DELETION_SWEEP_SECONDS, self.sweep
        )

    def stop(self, consumer: Any) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    def sweep(self) -> None:
        from experiments.services.deletion import deletion_jobs_requeue

        try:
            deletion_jobs_requeue()
        except Exception:  # (a sweep must never take the worker down)
            import logging

            logging.getLogger(__name__).exception("Deletion sweep failed")


app.steps["consumer"].add(DeletionSweeper)
