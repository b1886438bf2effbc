"""Start, watch and stop the two servers under test, each on its own fresh database.

Both run on the same PostgreSQL server:
- the reference: `mlflow server` (the pinned mlflow) with its default uvicorn workers, from a
  venv of its own (requirements-reference.txt; `make bench-reference` creates it), since the
  full mlflow pins gunicorn below the portal's;
- the portal: gunicorn with production settings (DEBUG off, a real SECRET_KEY), from this
  Python environment.

Each server is started in a session of its own and stopped with its whole process group, so
nothing is left running after an error or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import psycopg2
import requests

REPO = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
WORKERS = 2
# The portal's gunicorn worker settings, as the Procfile runs it; BENCH_GUNICORN_ARGS appends to
# (and so overrides) them.
# - 2 workers: the reference's worker count (the issue compares like with like).
# - 4 threads each (gthread): a request spends most of its time waiting for PostgreSQL with
#   the GIL released, so 8 threads keep 8 connections busy; measured on the 8-connection
#   ingest, 8 threads per worker were no faster than 4 (100-135k points/s either way, within
#   this machine's noise), and each thread holds a database connection.
# - keep-alive: gunicorn's default (2 s), longer than the gap between a client's calls; an
#   idle keep-alive connection waits in the worker's poller, not in a thread.
# - --timeout 600: a 100 MB artifact transfer must not be killed as a hung worker.
# - --no-control-socket: gunicorn 27's control interface is not used, and every instance
#   would share its default socket path.
BENCH_USER = "bench"
PORTAL_GUNICORN_ARGS = [
    "--workers", str(WORKERS), "--threads", "4", "--timeout", "600", "--no-control-socket",
]  # fmt: skip
# The Python of the reference's venv.
REFERENCE_PYTHON = Path(
    os.environ.get("BENCH_REFERENCE_PYTHON", REPO / ".venv-reference" / "bin" / "python")
)


def database_url(name: str) -> str:
    return f"{PG_URL}/{name}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recreate_database(name: str) -> None:
    """Drop and create one of the benchmark's own databases (never any other)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"Unexpected database name {name!r}")
    connection = psycopg2.connect(database_url("postgres"))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            cursor.execute(f"CREATE DATABASE {name}")
    finally:
        connection.close()


def settle() -> None:
    """Write every dirty page out (CHECKPOINT, then the kernel's sync) and wait for it.

    Run before each server's share of a timed workload: the writes of whatever ran before
    (the other server's share of the same workload, most often) are otherwise flushed while
    this one is timed, and its commits wait for the disk behind them.
    """
    connection = psycopg2.connect(database_url("postgres"))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    finally:
        connection.close()
    os.sync()


def postgres_version() -> str:
    connection = psycopg2.connect(database_url("postgres"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    finally:
        connection.close()


class ServerProcess:
    """One server: a command started in its own session, its log file and its workers."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        log_path: Path,
        worker_filter: Callable[[psutil.Process, psutil.Process], bool],
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.log_path = log_path
        self._worker_filter = worker_filter
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, url: str, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited during startup:\n{self.log_tail()}")
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(
            f"{self.name} did not answer {url} in {timeout:.0f}s:\n{self.log_tail()}"
        )

    def descendants(self) -> list[psutil.Process]:
        if self.process is None:
            return []
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (their RSS is what the memory target is about)."""
        if self.process is None:
            return []
        try:
            root = psutil.Process(self.process.pid)
        except psutil.NoSuchProcess:
            return []
        workers = []
        for child in self.descendants():
            try:
                if self._worker_filter(root, child):
                    workers.append(child.pid)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return workers

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The server and every process it started, stopped (SIGSTOP) until the block ends.

        While the other server is measured this one takes no CPU: the reference's job runner
        and workers, idle, used about a quarter of a core on a 2-core host (26.8% over 30 s),
        which the measured server's client, worker and PostgreSQL would otherwise share with it.
        """
        family = [] if self.process is None else [psutil.Process(self.process.pid)]
        family += self.descendants()
        for process in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.suspend()
        # SIGSTOP takes effect a moment later: the measurement starts once all have stopped.
        deadline = time.monotonic() + 5
        for process in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                while process.status() != psutil.STATUS_STOPPED and time.monotonic() < deadline:
                    time.sleep(0.01)
        try:
            yield
        finally:
            for process in family:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.resume()

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None:
            return
        family = [*self.descendants()]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        # A child that left the process group is still ours: end it by its id.
        _, alive = psutil.wait_procs(family, timeout=5)
        for child in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        self.process = None


def _is_uvicorn_worker(root: psutil.Process, child: psutil.Process) -> bool:
    return "spawn_main" in " ".join(child.cmdline())


def is_gunicorn_worker(root: psutil.Process, child: psutil.Process) -> bool:
    return child.ppid() == root.pid


def reference_server(
    *, workdir: Path, database: str, port: int, artifacts: Path
) -> tuple[ServerProcess, str]:
    """The reference `mlflow server` and its tracking URI (not started)."""
    # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; the environment has psycopg2.
    backend = database_url(database).replace("postgres://", "postgresql+psycopg2://", 1)
    if not REFERENCE_PYTHON.exists():
        raise RuntimeError(
            f"No reference venv at {REFERENCE_PYTHON}: `make bench-reference` creates it "
            "(or set BENCH_REFERENCE_PYTHON)."
        )
    argv = [
        str(REFERENCE_PYTHON),
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend,
        "--artifacts-destination",
        str(artifacts),
        "--serve-artifacts",
        "--workers",
        str(WORKERS),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MLFLOW_"))}
    server = ServerProcess(
        "reference",
        argv,
        env=env,
        cwd=workdir,
        log_path=workdir / "reference.log",
        worker_filter=_is_uvicorn_worker,
    )
    return server, f"http://127.0.0.1:{port}"


def portal_environment(*, workdir: Path, database: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MLFLOW_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database_url(database),
            "DEBUG": "false",
            "PORTAL_PRODUCTION": "true",
            # Plain HTTP on the loopback, as behind a TLS-terminating proxy (README: Production).
            "SECURE_SSL_REDIRECT": "false",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "ARTIFACT_ROOT": str(workdir / "portal-artifacts"),
            "PORTAL_VAR_DIR": str(workdir / "portal-var"),
            "STATIC_ROOT": str(workdir / "portal-static"),
            "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5"),
            "LOG_LEVEL": "WARNING",
            # The in-process probes (bench.portal_probe) use Django's test client.
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        }
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def portal_server(
    *, workdir: Path, database: str, port: int, workspace: str = "bench/bench"
) -> tuple[ServerProcess, str, dict[str, str]]:
    """The portal under gunicorn, migrated, with its workspace tracking URI (not started).

    Sets MLFLOW_TRACKING_TOKEN in this process to the token `mlflow_env` prints: the clients
    and raw calls of every workload send it (the reference server ignores it).
    """
    env = portal_environment(workdir=workdir, database=database)
    manage(env, "migrate", "--no-input", "--verbosity", "0")
    # A plain user, owner of the workspace by a role assignment: every call reads that role,
    # as a team member's calls do (a superuser's would skip it).
    manage(
        env,
        "shell",
        "-c",
        f"from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.get_or_create(username={BENCH_USER!r})",
    )
    exports = manage(
        env, "mlflow_env", workspace, "--url", f"http://127.0.0.1:{port}", "--user", BENCH_USER
    )
    match = re.search(r"MLFLOW_TRACKING_URI=(\S+)", exports)
    if match is None:
        raise RuntimeError(f"mlflow_env printed no tracking URI: {exports!r}")
    uri = shlex.split(match.group(1))[0]
    token = re.search(r"MLFLOW_TRACKING_TOKEN=(\S+)", exports)
    if token is None:
        raise RuntimeError(f"mlflow_env printed no tracking token: {exports!r}")
    os.environ["MLFLOW_TRACKING_TOKEN"] = shlex.split(token.group(1))[0]
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "portal.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        *PORTAL_GUNICORN_ARGS,
        "--access-logfile",
        str(workdir / "portal-access.log"),
        *shlex.split(os.environ.get("BENCH_GUNICORN_ARGS", "")),
    ]
    server = ServerProcess(
        "portal",
        argv,
        env=env,
        cwd=REPO,
        log_path=workdir / "portal.log",
        worker_filter=is_gunicorn_worker,
    )
    return server, uri, env


def null_server(*, workdir: Path, port: int) -> tuple[ServerProcess, str]:
    argv = [sys.executable, "-m", "bench.null_server", "--port", str(port)]
    server = ServerProcess(
        "null",
        argv,
        env={**os.environ},
        cwd=REPO,
        log_path=workdir / "null.log",
        worker_filter=lambda root, child: False,
    )
    return server, f"http://127.0.0.1:{port}"


_STATUS = re.compile(r'HTTP/1\.[01]" (\d{3})')


def count_server_errors(log_path: Path, start: int = 0) -> tuple[int, int]:
    """5xx responses in an access log from byte offset `start`; returns (count, end offset).

    Reads uvicorn's (reference) and gunicorn's (portal) default access lines alike.
    """
    try:
        with log_path.open("rb") as log:
            log.seek(start)
            data = log.read()
    except OSError:
        return 0, start
    errors = sum(1 for code in _STATUS.findall(data.decode(errors="replace")) if code[0] == "5")
    return errors, start + len(data)
