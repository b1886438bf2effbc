"""Real Celery worker processes for the tests: `celery -A portal worker` on the test database,
the test artifact folder and the test run's broker (Redis when REDIS_URL is set, else the
filesystem queue)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)

# Small units and short timers, so that a test sees many steps, leases and sweeps quickly.
FAST = {
    "DELETION_METRIC_BATCH": "500",
    "DELETION_ROW_BATCH": "100",
    "DELETION_FILE_BATCH": "50",
    "DELETION_STEP_SECONDS": "0.1",
    "DELETION_LEASE_SECONDS": "3",
    "DELETION_SWEEP_SECONDS": "1",
    "DELETION_REQUEUE_SECONDS": "2",
    "DELETION_MAX_RETRIES": "3",
    "DELETION_RETRY_BACKOFF": "1",
    "DELETION_RETRY_BACKOFF_MAX": "2",
}


def database_url() -> str:
    """The test database, as a DATABASE_URL for another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def worker_environment(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database_url(),
            "DB_CONN_MAX_AGE": "0",
            "ARTIFACT_ROOT": str(settings.STORAGES["artifacts"]["OPTIONS"]["location"]),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_FILESYSTEM_DIR": str(settings.CELERY_FILESYSTEM_DIR),
            "PYTHONUNBUFFERED": "1",
            **FAST,
            **overrides,
        }
    )
    return env


class CeleryWorker:
    """One `celery worker` process (solo pool: the task runs in that very process, so a
    SIGKILL stops the deletion where it is)."""

    def __init__(self, **environment: str) -> None:
        self.environment = environment
        self.id = f"test-{uuid.uuid4().hex[:8]}"
        self.name = f"{self.id}@%h"
        # The default queue, and one of its own (for messages meant for this worker only).
        self.queue = self.id
        self.log = Path(tempfile.mkstemp(prefix="celery-worker-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> CeleryWorker:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "portal", "worker",
                    "--pool=solo", "--loglevel=INFO", "-n", self.name, "-Q", f"celery,{self.queue}",
                    "--without-gossip", "--without-mingle", "--without-heartbeat",
                ],
                cwd=BASE_DIR,
                env=worker_environment(**self.environment),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        wait_for(lambda: "ready." in self.output(), timeout, f"worker start\n{self.output()}")
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL, no goodbye: the task in progress stops mid-unit."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def purge_queue() -> None:
    """Drop task messages left over by earlier tests (stale, but they would wake workers)."""
    from portal.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)


@contextmanager
def broker_unreachable() -> Iterator[str]:
    """Point this process's Celery app at a Redis port where nothing listens (a real
    connection refused), then back at the test run's broker. Yields the dead URL."""
    from portal.celery import app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = f"redis://127.0.0.1:{port}/0"
    saved = (app.conf.broker_url, app.conf.broker_transport_options)

    def use(url: str, options: dict) -> None:
        app.conf.broker_url = url
        app.conf.broker_transport_options = options
        app._pool = None
        app.amqp._producer_pool = None

    use(dead, {"socket_connect_timeout": 1})
    try:
        yield dead
    finally:
        use(*saved)
