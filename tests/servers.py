"""The portal under gunicorn, as production serves it, for what Django's live test server does
differently: reading request bodies (gunicorn decodes chunked bodies and has a body reader of
its own), and starting without a database."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn_portal(env: dict[str, str], timeout: float = 30) -> Iterator[str]:
    """`gunicorn portal.wsgi` (one worker, two threads) in the environment `env`; yields its
    base URL once it answers, and stops it afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}",
                "--workers", "1", "--threads", "2", "--graceful-timeout", "3",
            ],
            env=env,
            cwd=BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    requests.get(f"{url}/api/3.0/mlflow/server-info", timeout=5)
                    break
                except requests.RequestException:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        output = log.read().decode(errors="replace")
                        raise RuntimeError(f"gunicorn did not start:\n{output}") from None
                    time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)
