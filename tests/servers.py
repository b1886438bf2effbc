"""The portal under gunicorn, as production serves it, for what Django's live test server does
differently: reading request bodies (gunicorn decodes chunked bodies and has a body reader of
its own), and starting without a database."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.servers import ServerProcess, free_port, is_gunicorn_worker

BASE_DIR = Path(__file__).resolve().parents[1]


@contextmanager
def gunicorn_portal(env: dict[str, str], timeout: float = 30) -> Iterator[str]:
    """`gunicorn portal.wsgi` (one worker, two threads) in the environment `env`; yields its
    base URL once it answers, and stops it afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}",
        "--workers", "1", "--threads", "2", "--graceful-timeout", "3", "--no-control-socket",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="portal-gunicorn-") as folder:
        server = ServerProcess(
            "gunicorn",
            argv,
            env=env,
            cwd=BASE_DIR,
            log_path=Path(folder) / "gunicorn.log",
            worker_filter=is_gunicorn_worker,
        )
        server.start()
        try:
            # Answered without the database, so also by a portal that has none.
            server.wait_ready(f"{url}/api/3.0/mlflow/server-info", timeout)
            yield url
        finally:
            server.stop()
