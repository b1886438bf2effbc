"""The whole comparison in one command:

    python -m bench.run [--scale small|full] [--only ingest,search_runs,...] [--profile]

recreates the two databases, starts the reference `mlflow server` and the portal (gunicorn) on
the same PostgreSQL server, runs every workload against both, prints the table and writes it to
bench/results/<timestamp>.md. Both servers are stopped however the run ends (error, Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import multiprocessing
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from types import FrameType
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py` as well as `python -m bench.run`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from bench import ceilings, seed_reference, servers, workloads
from bench.data import SEARCH_FILTER, SEARCH_ORDER, expected_search_names
from bench.profiling import PySpy, summarize
from bench.report import Ceiling, Row, ceilings_markdown, number, render_text, rows_markdown
from bench.servers import REPO, ServerProcess
from bench.workloads import RssSampler, Target

WORKLOADS = (
    "ingest",
    "log_batch",
    "log_metric",
    "async",
    "history",
    "search_runs",
    "search_experiments",
    "artifacts",
    "concurrent",
)
PORTAL_WORKSPACE = "bench/bench"
SEARCH_SALT = "bench-search"
SEARCH_PAGE = 1000
MEMORY_LIMIT_MB = 300


@dataclass(frozen=True)
class Scale:
    ingest_batches: int
    client_batches: int
    log_metric_calls: int
    async_points: int
    history_points: int
    search_runs: int
    experiments: int
    artifact_mb: int
    concurrent_metric_calls: int
    concurrent_batches: int
    copy_rows: int
    reps: int
    connections: int = 8
    concurrent_clients: int = 16


SCALES = {
    # Tiny sizes: the whole run in a few minutes, to check the harness, not to judge speed.
    "small": Scale(
        ingest_batches=32,
        client_batches=10,
        log_metric_calls=50,
        async_points=2000,
        history_points=5000,
        search_runs=1000,
        experiments=2000,
        artifact_mb=10,
        concurrent_metric_calls=10,
        concurrent_batches=2,
        copy_rows=100_000,
        reps=3,
    ),
    # The sizes of issue 6. The one-client runs last long enough (the portal's log_metric
    # run: about 5 s) that a pause of the machine moves their rate by a few percent at most.
    "full": Scale(
        ingest_batches=300,
        client_batches=300,
        log_metric_calls=1000,
        async_points=20_000,
        history_points=100_000,
        search_runs=10_000,
        experiments=100_000,
        artifact_mb=100,
        concurrent_metric_calls=50,
        concurrent_batches=10,
        copy_rows=1_000_000,
        reps=3,
    ),
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _prepare_client_process() -> None:
    """Pool initializer: pay mlflow's import before any clock starts, and silence the
    client's per-run "View run at" lines (16 processes of them drown the progress log)."""
    import mlflow  # noqa: F401

    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the process)


def in_fresh_process(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """function(*args, **kwargs) in a new Python process, for a one-client measurement.

    The client's own cost per call grows with what its process holds (its garbage collector
    walks every live object): measured in this process, the client alone ran about 7% slower
    after the ingest workload than before it. So each one-client figure, the do-nothing
    server's ceiling included, comes from a process that has done nothing else.
    """
    context = multiprocessing.get_context("spawn")
    with context.Pool(1, initializer=_prepare_client_process) as pool:
        return pool.apply(function, args, kwargs)


def _ready(index: int) -> int:
    return index


def _shares(value: float | None, ceiling: float | None) -> str:
    return "" if value is None or not ceiling else f"{100 * value / ceiling:.0f}%"


class Bench:
    """One benchmark run: the servers, the targets and the rows gathered so far."""

    def __init__(self, args: argparse.Namespace, workdir: Path, results: Path, stamp: str) -> None:
        self.args = args
        self.scale: Scale = SCALES[args.scale]
        self.workdir = workdir
        self.results = results
        self.stamp = stamp
        self.rows: list[Row] = []
        self.ceilings: list[Ceiling] = []
        self.checks: list[str] = []
        self.failures: list[str] = []
        self.files: list[Path] = []
        self.peak_mb: dict[str, float] = {}
        self.client_ceiling: dict[str, float] = {}
        self.copy_ceiling: float | None = None
        self.probe_ids: dict[str, str] = {}
        self.null_uri = ""
        self.reference: ServerProcess | None = None
        self.portal: ServerProcess | None = None
        self.portal_env: dict[str, str] = {}
        self.targets: list[Target] = []

    def _alone(self) -> Iterator[Target]:
        """self.targets one by one, each measured with the other server paused (see
        ServerProcess.paused): neither server's idle background work runs during the other's
        measurements."""
        for target in self.targets:
            with contextlib.ExitStack() as stack:
                for server in (self.reference, self.portal):
                    if server is not None and server.name != target.name:
                        stack.enter_context(server.paused())
                yield target

    # --- setup --------------------------------------------------------------------------------

    def measure_client_ceilings(self, stack: contextlib.ExitStack) -> None:
        # The do-nothing server stays up: the read workloads use it for their ceilings too.
        null, uri = servers.null_server(workdir=self.workdir, port=servers.free_port())
        stack.callback(null.stop)
        null.start()
        null.wait_ready(f"{uri}/api/2.0/mlflow/experiments/get?experiment_id=0", timeout=30)
        self.null_uri = uri
        wanted = {"log_batch", "log_metric", "async"} & self.args.only
        if not wanted:
            return
        s = self.scale
        # log_batch's ceiling is measured in turns with the portal (see log_batch).
        if "log_metric" in wanted:
            # The do-nothing server answers in microseconds: more calls for a stable figure.
            result = in_fresh_process(
                workloads.client_log_metric, uri, calls=s.log_metric_calls * 4, verify=False
            )
            self.client_ceiling["log_metric"] = result.rate
            result = in_fresh_process(
                workloads.http_log_metric, uri, calls=s.log_metric_calls * 4, verify=False
            )
            self.client_ceiling["log_metric_http"] = result.rate
        if "async" in wanted:
            result = in_fresh_process(
                workloads.client_log_async, uri, points=s.async_points, verify=False
            )
            self.client_ceiling["async"] = result.rate
        if self.client_ceiling:
            log(
                "client ceilings (do-nothing server): "
                + ", ".join(f"{k} {number(v)}/s" for k, v in self.client_ceiling.items())
            )

    def start_servers(self, stack: contextlib.ExitStack) -> None:
        args = self.args
        log(f"recreating databases {args.reference_db} and {args.portal_db}")
        servers.recreate_database(args.reference_db)
        servers.recreate_database(args.portal_db)
        reference, reference_uri = servers.reference_server(
            workdir=self.workdir,
            database=args.reference_db,
            port=servers.free_port(),
            artifacts=self.workdir / "reference-artifacts",
        )
        stack.callback(reference.stop)
        reference.start()
        log("migrating the portal database")
        portal, portal_uri, self.portal_env = servers.portal_server(
            workdir=self.workdir,
            database=args.portal_db,
            port=servers.free_port(),
            workspace=PORTAL_WORKSPACE,
        )
        if "ingest" in args.only:
            self.copy_ceiling = ceilings.copy_rows_per_second(
                database=args.portal_db, rows=self.scale.copy_rows
            )
            log(f"COPY ceiling: {number(self.copy_ceiling)} rows/s")
        stack.callback(portal.stop)
        portal.start()
        reference.wait_ready(f"{reference_uri}/health")
        portal.wait_ready(f"{portal_uri}/version")
        log(f"reference {reference_uri}\n           portal    {portal_uri}")
        self.reference, self.portal = reference, portal
        self.targets = [
            Target("reference", reference_uri, reference.worker_pids, reference.log_path),
            Target("portal", portal_uri, portal.worker_pids, self.workdir / "portal-access.log"),
        ]

    # --- helpers ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def memory(self, target: Target) -> Iterator[None]:
        with RssSampler(target.worker_pids) as sampler:
            yield
        self.peak_mb[target.name] = max(self.peak_mb.get(target.name, 0.0), sampler.peak_mb)

    def check(self, workload: str, target: Target, ok: bool, text: str) -> None:
        line = f"{'ok  ' if ok else 'FAIL'} {workload} [{target.name}]: {text}"
        self.checks.append(line.rstrip())

    def portal_python(self, *args: str, output: Path | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "-m", *args],
            env=self.portal_env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{result.stderr[-4000:]}")
        if output is not None:
            output.write_text(result.stdout)
            self.files.append(output)
        return result.stdout

    def portal_tracking_path(self) -> str:
        return "/" + self.targets[1].tracking_uri.split("/", 3)[3]

    # --- workloads ----------------------------------------------------------------------------

    def ingest(self) -> None:
        s = self.scale
        results = {}
        for target in self._alone():
            profile = self.args.profile and target.name == "portal"
            spy = None
            if profile:
                raw = self.results / f"{self.stamp}-ingest-pyspy.raw"
                spy = PySpy(self.portal.process.pid, raw)
            with self.memory(target):
                results[target.name] = result = workloads.ingest_capacity(
                    target,
                    batches=s.ingest_batches,
                    connections=s.connections,
                    during_post=spy,
                )
            ok = result.errors == 0 and result.lost == 0
            self.check(
                "ingest",
                target,
                ok,
                f"{result.found:,} of {result.expected:,} points read back, "
                f"{result.errors} failed requests {result.first_error[:200]}",
            )
            log(f"ingest {target.name}: {number(result.points_per_s)} points/s")
            if profile:
                summary = self.results / f"{self.stamp}-ingest-pyspy.txt"
                summary.write_text(summarize(raw))
                self.files += [raw, summary]
                self.portal_python(
                    "bench.portal_probe",
                    "profile-ingest",
                    "--tracking-path",
                    self.portal_tracking_path(),
                    "--batches",
                    str(min(100, s.ingest_batches)),
                    output=self.results / f"{self.stamp}-ingest-cprofile.txt",
                )
        ref, portal = results["reference"], results["portal"]
        self.rows.append(
            Row(
                f"server ingest capacity ({s.connections} connections, log-batch of 1,000)",
                "points/s",
                ref.points_per_s,
                portal.points_per_s,
                target=">= 10x",
                check=lambda r, p: p >= 10 * r,
                problems=[] if portal.errors == 0 and portal.lost == 0 else ["lost or failed"],
            )
        )
        if self.copy_ceiling:
            self.ceilings.append(
                Ceiling(
                    f"PostgreSQL COPY of {s.copy_rows:,} rows into the portal's metric table",
                    "rows/s",
                    self.copy_ceiling,
                    ref.points_per_s,
                    portal.points_per_s,
                )
            )

    def _client_row(
        self,
        key: str,
        label: str,
        unit: str,
        ceiling_label: str,
        run: Callable[[str], workloads.ClientResult],
        target_text: str,
        check: Callable[[float, float], bool] | None,
    ) -> None:
        results = {}
        for target in self._alone():
            servers.settle()
            result = in_fresh_process(run, target.tracking_uri)
            results[target.name] = result
            self.check(
                key, target, result.lost == 0, f"{result.found:,} of {result.expected:,} stored"
            )
            log(f"{key} {target.name}: {number(result.rate)} {unit}")
        portal = results["portal"]
        self.rows.append(
            Row(
                label,
                unit,
                results["reference"].rate,
                portal.rate,
                target=target_text,
                check=check,
                problems=[] if portal.lost == 0 else ["lost points"],
            )
        )
        ceiling = self.client_ceiling.get(key)
        if ceiling:
            self.ceilings.append(
                Ceiling(
                    ceiling_label,
                    unit,
                    ceiling,
                    results["reference"].rate,
                    portal.rate,
                )
            )

    def log_batch(self) -> None:
        """The portal's share of the client's ceiling is measured in turns with the
        do-nothing server, in one client process (client_log_batch_paired); the reference
        alone, as every other client workload."""
        batches = self.scale.client_batches
        results = {}
        for target in self._alone():
            servers.settle()
            if target.name == "portal":
                result, ceiling = in_fresh_process(
                    workloads.client_log_batch_paired,
                    target.tracking_uri,
                    self.null_uri,
                    batches=batches,
                )
                self.client_ceiling["log_batch"] = ceiling.rate
                log(f"log_batch ceiling, in turns with the portal: {number(ceiling.rate)} points/s")
            else:
                result = in_fresh_process(
                    workloads.client_log_batch, target.tracking_uri, batches=batches
                )
            results[target.name] = result
            self.check(
                "log_batch",
                target,
                result.lost == 0,
                f"{result.found:,} of {result.expected:,} stored",
            )
            log(f"log_batch {target.name}: {number(result.rate)} points/s")
        ceiling_rate = self.client_ceiling["log_batch"]
        portal = results["portal"]
        self.rows.append(
            Row(
                "one mlflow client, log_batch of 1,000",
                "points/s",
                results["reference"].rate,
                portal.rate,
                target=f">= 75% of client ceiling ({number(ceiling_rate)}, measured in turns)",
                check=lambda r, p: p >= 0.75 * ceiling_rate,
                problems=[] if portal.lost == 0 else ["lost points"],
            )
        )
        self.ceilings.append(
            Ceiling(
                "mlflow client log_batch against a do-nothing server (in turns with the portal)",
                "points/s",
                ceiling_rate,
                results["reference"].rate,
                portal.rate,
            )
        )

    def log_metric(self) -> None:
        """The target judges the client's row, as the issue states it. The client's own time
        per call is the same whichever server answers, so that row can show at most
        client-alone / reference (written in its target column); the HTTP-only row shows the
        servers' own times, the requests sent ready-made over one connection."""
        self._client_row(
            "log_metric",
            "one mlflow client, log_metric",
            "calls/s",
            "mlflow client log_metric against a do-nothing server",
            partial(workloads.client_log_metric, calls=self.scale.log_metric_calls),
            ">= 10x",
            lambda r, p: p >= 10 * r,
        )
        row = self.rows[-1]
        if (alone := self.client_ceiling.get("log_metric")) and row.reference:
            row.target += f" (any server: at most {alone / row.reference:.2f}x)"
        self._client_row(
            "log_metric_http",
            "log-metric requests, one connection (HTTP only)",
            "calls/s",
            "log-metric requests (one connection) against a do-nothing server",
            partial(workloads.http_log_metric, calls=self.scale.log_metric_calls),
            "",
            None,
        )

    def async_(self) -> None:
        self._client_row(
            "async",
            "one mlflow client, log_metric(synchronous=False)",
            "points/s",
            "mlflow client async log_metric against a do-nothing server",
            partial(workloads.client_log_async, points=self.scale.async_points),
            "",
            None,
        )

    def _read_rows(
        self,
        key: str,
        label: str,
        results: dict[str, workloads.ReadResult],
        target_text: str,
        check: Callable[[float, float], bool] | None,
        client_alone: dict[str, float] | None = None,
    ) -> None:
        """The server's time (HTTP only) is what the target judges. Through the mlflow client
        each call also pays the client's own reading of the reply, the same whichever server
        sent it, so the client row can show at most reference / client-alone (written in its
        target column): on a day when that bound is below the target, no server could pass."""
        ref, portal = results["reference"], results["portal"]
        problems = [] if portal.correct and not portal.detail else ["wrong results"]
        alone = (client_alone or {}).get("portal")
        bound = ref.client_seconds / alone if alone else None
        self.rows.append(
            Row(
                f"{label} (mlflow client)",
                "ms",
                ref.client_seconds * 1000,
                portal.client_seconds * 1000,
                higher_is_better=False,
                target="" if bound is None else f"(any server: at most {bound:.2f}x)",
                problems=problems,
            )
        )
        self.rows.append(
            Row(
                f"{label} (HTTP only)",
                "ms",
                ref.http_seconds * 1000,
                portal.http_seconds * 1000,
                higher_is_better=False,
                target=target_text,
                check=check,
                problems=problems,
            )
        )

    def read_ceilings(
        self,
        what: str,
        endpoint: str,
        results: dict[str, workloads.ReadResult],
        call: Callable[[Any], Any],
    ) -> dict[str, float]:
        """The client's own time to read each server's reply, served by the do-nothing server:
        no server can make the client call faster than that. Returned in seconds by server."""
        alone = {}
        for name, result in results.items():
            seconds = workloads.client_read_seconds(
                self.null_uri, endpoint, result.body, call, self.scale.reps
            )
            alone[name] = seconds
            self.ceilings.append(
                Ceiling(
                    f"mlflow client alone reading the {name}'s {what} reply",
                    "ms",
                    seconds * 1000,
                    result.client_seconds * 1000 if name == "reference" else None,
                    result.client_seconds * 1000 if name == "portal" else None,
                    higher_is_better=False,
                )
            )
        return alone

    def history(self) -> None:
        s = self.scale
        results = {}
        for target in self._alone():
            result = workloads.metric_history(target, points=s.history_points, reps=s.reps)
            results[target.name] = result
            self.check(
                "history", target, result.correct, f"{result.found:,} of {result.expected:,} points"
            )
            log(f"history {target.name}: {result.client_seconds * 1000:.0f} ms")
        self.probe_ids["run_id"] = results["portal"].ids["run_id"]
        client_alone = self.read_ceilings(
            f"get_metric_history ({s.history_points:,} points)",
            "metrics/get-history",
            results,
            lambda client: client.get_metric_history("0" * 32, "loss"),
        )
        self._read_rows(
            "history",
            f"get_metric_history of {s.history_points:,} points",
            results,
            ">= 3x faster",
            lambda r, p: r >= 3 * p,
            client_alone,
        )

    def search_runs(self) -> None:
        s = self.scale
        expected = expected_search_names(s.search_runs, salt=SEARCH_SALT, limit=SEARCH_PAGE)
        seeders: dict[str, Callable[[str], None]] = {
            "reference": lambda experiment_id: seed_reference.seed_runs(
                database=self.args.reference_db,
                experiment_id=experiment_id,
                count=s.search_runs,
                salt=SEARCH_SALT,
            ),
            "portal": lambda experiment_id: self.portal_python(
                "bench.seed_portal",
                "runs",
                "--workspace",
                PORTAL_WORKSPACE.split("/")[1],
                "--experiment-id",
                experiment_id,
                "--count",
                str(s.search_runs),
                "--salt",
                SEARCH_SALT,
            ),
        }
        results = {}
        for target in self._alone():
            result = workloads.search_runs(
                target,
                seed=seeders[target.name],
                expected_names=expected,
                max_results=SEARCH_PAGE,
                reps=s.reps,
            )
            results[target.name] = result
            self.check(
                "search_runs",
                target,
                result.correct and not result.detail,
                f"{result.found} of {result.expected} runs in the expected order {result.detail}",
            )
            log(f"search_runs {target.name}: {result.client_seconds * 1000:.0f} ms")
        self.probe_ids["experiment_id"] = results["portal"].ids["experiment_id"]
        client_alone = self.read_ceilings(
            f"search_runs ({len(expected)} runs)",
            "runs/search",
            results,
            lambda client: client.search_runs(
                ["1"], filter_string=SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=SEARCH_PAGE
            ),
        )
        self._read_rows(
            "search_runs",
            f"search_runs filter+order over {s.search_runs:,} runs ({len(expected)} returned)",
            results,
            ">= 5x faster",
            lambda r, p: r >= 5 * p,
            client_alone,
        )

    def search_experiments(self) -> None:
        s = self.scale
        seeders: dict[str, Callable[[], Any]] = {
            "reference": lambda: seed_reference.seed_experiments(
                database=self.args.reference_db, count=s.experiments
            ),
            "portal": lambda: self.portal_python(
                "bench.seed_portal",
                "experiments",
                "--workspace",
                PORTAL_WORKSPACE.split("/")[1],
                "--count",
                str(s.experiments),
            ),
        }
        exact, prefix = {}, {}
        for target in self._alone():
            result = workloads.search_experiments(
                target, count=s.experiments, seed=seeders[target.name], reps=s.reps
            )
            exact[target.name], prefix[target.name] = result.exact, result.prefix
            for label, part in (("name =", result.exact), ("name LIKE", result.prefix)):
                self.check(
                    "search_experiments",
                    target,
                    part.correct and not part.detail,
                    f"{label}: {part.found} of {part.expected} {part.detail}",
                )
            log(f"search_experiments {target.name}: {result.exact.client_seconds * 1000:.0f} ms")
        self._read_rows(
            "search_experiments",
            f"search_experiments name = among {s.experiments:,}",
            exact,
            "portal < 50 ms",
            lambda r, p: p < 50,
        )
        self._read_rows(
            "search_experiments",
            f"search_experiments name LIKE prefix% (100 of {s.experiments:,})",
            prefix,
            "",
            None,
        )

    def artifacts(self) -> None:
        s = self.scale
        results = {}
        for target in self._alone():
            with self.memory(target):
                result = workloads.artifact_roundtrip(
                    target, size_mb=s.artifact_mb, workdir=self.workdir
                )
            results[target.name] = result
            self.check("artifacts", target, result.intact, "sha256 of the download matches")
            log(
                f"artifacts {target.name}: up {number(result.upload_mb_s)} MB/s, "
                f"down {number(result.download_mb_s)} MB/s"
            )
        portal = results["portal"]
        problems = [] if portal.intact else ["download differs"]
        for direction in ("upload", "download"):
            self.rows.append(
                Row(
                    f"artifact {direction} of {s.artifact_mb} MB",
                    "MB/s",
                    getattr(results["reference"], f"{direction}_mb_s"),
                    getattr(portal, f"{direction}_mb_s"),
                    target="intact",
                    check=lambda r, p: True,
                    problems=problems,
                )
            )

    def concurrent(self) -> None:
        s = self.scale
        context = multiprocessing.get_context("spawn")
        results = {}
        with (
            context.Manager() as manager,
            context.Pool(s.concurrent_clients, initializer=_prepare_client_process) as pool,
        ):
            # Every process has started and imported mlflow before the first measurement.
            pool.map(_ready, range(s.concurrent_clients * 4), chunksize=1)
            for target in self._alone():
                barrier = manager.Barrier(s.concurrent_clients)
                offset = target.access_log.stat().st_size if target.access_log else 0
                result = workloads.concurrent_clients(
                    target,
                    pool=pool,
                    barrier=barrier,
                    clients=s.concurrent_clients,
                    metric_calls=s.concurrent_metric_calls,
                    batches=s.concurrent_batches,
                )
                server_errors, _ = (
                    servers.count_server_errors(target.access_log, offset)
                    if target.access_log
                    else (0, 0)
                )
                results[target.name] = (result, server_errors)
                self.check(
                    "concurrent",
                    target,
                    result.client_errors == 0 and result.lost == 0 and server_errors == 0,
                    f"{result.found:,} of {result.expected:,} points, {result.client_errors} "
                    f"client errors, {server_errors} server 5xx {result.first_error[:200]}",
                )
                log(f"concurrent {target.name}: {number(result.points_per_s)} points/s")
        (ref, ref_5xx), (portal, portal_5xx) = results["reference"], results["portal"]
        self.rows.append(
            Row(
                f"{s.concurrent_clients} concurrent clients, throughput",
                "points/s",
                ref.points_per_s,
                portal.points_per_s,
            )
        )
        self.rows.append(
            Row(
                f"{s.concurrent_clients} concurrent clients, errors + 5xx + lost points",
                "count",
                ref.client_errors + ref_5xx + max(ref.lost, 0),
                portal.client_errors + portal_5xx + max(portal.lost, 0),
                higher_is_better=False,
                target="portal 0",
                check=lambda r, p: p == 0,
            )
        )

    def memory_row(self) -> None:
        if not self.peak_mb:
            return
        measured = [w for w in ("ingest", "artifacts") if w in self.args.only]
        self.rows.append(
            Row(
                f"peak RSS of one worker ({' + '.join(measured)})",
                "MB",
                self.peak_mb.get("reference"),
                self.peak_mb.get("portal"),
                higher_is_better=False,
                target=f"portal < {MEMORY_LIMIT_MB} MB",
                check=lambda r, p: p < MEMORY_LIMIT_MB,
            )
        )

    def explain(self) -> None:
        if not {"run_id", "experiment_id"} <= self.probe_ids.keys():
            return
        self.portal_python(
            "bench.portal_probe",
            "explain",
            "--tracking-path",
            self.portal_tracking_path(),
            "--experiment-id",
            self.probe_ids["experiment_id"],
            "--run-id",
            self.probe_ids["run_id"],
            output=self.results / f"{self.stamp}-explain.txt",
        )

    # --- report -------------------------------------------------------------------------------

    def markdown(self, command: str, started: float) -> str:
        lines = [
            f"# Portal vs reference MLflow server: {self.args.scale} scale",
            "",
            f"- Date: {datetime.datetime.now().isoformat(timespec='seconds')}, "
            f"{time.monotonic() - started:.0f} s",
            f"- Command: `{command}`",
            *(f"- {line}" for line in machine_lines()),
            "",
            "## Results",
            "",
            "`x better`: portal/reference for rates, reference/portal for times.",
            "",
            rows_markdown(self.rows),
        ]
        if self.ceilings:
            lines += ["", "## Ceilings", "", ceilings_markdown(self.ceilings)]
        lines += ["", "## Checks", "", *(f"- {c}" for c in self.checks)]
        if self.failures:
            lines += ["", "## Workloads that failed", "", *(f"- {f}" for f in self.failures)]
        if self.files:
            lines += ["", "## Profiles", "", *(f"- {f.name}" for f in self.files)]
        return "\n".join(lines) + "\n"


def _package(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_lines() -> list[str]:
    reference = reference_packages("mlflow", "uvicorn")
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    extra = os.environ.get("BENCH_GUNICORN_ARGS", "")
    gunicorn = " ".join([*servers.PORTAL_GUNICORN_ARGS, *([extra] if extra else [])])
    return [
        f"Machine: {cpu}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, {platform.platform()}, "
        f"load average at the end {load}",
        f"Software: Python {platform.python_version()}, PostgreSQL {servers.postgres_version()}, "
        f"mlflow client (mlflow-skinny) {_package('mlflow-skinny')}, Django "
        f"{_package('Django')}, gunicorn {_package('gunicorn')}, psycopg2 "
        f"{_package('psycopg2-binary')}; reference server: mlflow {reference['mlflow']}, "
        f"uvicorn {reference['uvicorn']}",
        f"Servers: reference `mlflow server --workers {servers.WORKERS}` (uvicorn); portal "
        f"`gunicorn {gunicorn}`"
        ", both on the same PostgreSQL server, separate databases",
        f"Portal commit: {commit or 'unknown'}",
    ]


@cache
def reference_packages(*names: str) -> dict[str, str]:
    """Versions installed in the reference server's venv (asked once per set of names)."""
    code = (
        "import importlib.metadata as m, sys\n"
        "for n in sys.argv[1:]:\n"
        "    try: print(m.version(n))\n"
        "    except m.PackageNotFoundError: print('not installed')"
    )
    if not servers.REFERENCE_PYTHON.exists():
        return dict.fromkeys(names, "not installed")
    result = subprocess.run(
        [str(servers.REFERENCE_PYTHON), "-c", code, *names],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(zip(names, result.stdout.split(), strict=True))


def pinned(requirements: str, package: str) -> str:
    for line in (REPO / requirements).read_text().splitlines():
        if line.startswith(f"{package}=="):
            return line.split("==", 1)[1].strip()
    raise RuntimeError(f"{requirements} pins no {package} version")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument(
        "--only",
        default=",".join(WORKLOADS),
        help=f"comma-separated subset of {', '.join(WORKLOADS)}",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy and cProfile of the portal's ingest, EXPLAIN ANALYZE of its reads",
    )
    parser.add_argument("--portal-db", default=os.environ.get("BENCH_PORTAL_DB", "portal_bench"))
    parser.add_argument(
        "--reference-db", default=os.environ.get("BENCH_REFERENCE_DB", "mlflow_reference")
    )
    args = parser.parse_args(argv)
    args.only = {name.strip() for name in args.only.split(",") if name.strip()}
    if unknown := args.only - set(WORKLOADS):
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    command = " ".join(["python -m bench.run", *(sys.argv[1:] if argv is None else argv)])
    # package: (version installed where it runs, the requirements file that pins it)
    versions = {
        "mlflow-skinny": (_package("mlflow-skinny"), "requirements-dev.txt"),
        "mlflow": (reference_packages("mlflow", "uvicorn")["mlflow"], "requirements-reference.txt"),
    }
    for package, (installed, requirements) in versions.items():
        if installed != (wanted := pinned(requirements, package)):
            print(
                f"{package} {installed} is installed, {requirements} pins {wanted}", file=sys.stderr
            )
            return 2
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    signal.signal(signal.SIGTERM, _interrupt)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "600")
    with (
        tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        bench = Bench(args, Path(tmp), results, stamp)
        bench.measure_client_ceilings(stack)
        bench.start_servers(stack)
        for name in WORKLOADS:
            if name not in args.only:
                continue
            try:
                getattr(bench, "async_" if name == "async" else name)()
            except Exception as exc:  # one broken workload must not hide the others' figures
                traceback.print_exc()
                bench.failures.append(f"{name}: {exc!r}"[:500])
        bench.memory_row()
        if args.profile:
            bench.explain()
        report = bench.markdown(command, started)
    path = results / f"{stamp}.md"
    path.write_text(report)
    print()
    print(render_text(bench.rows, bench.ceilings))
    print()
    for line in bench.checks:
        print(line)
    for failure in bench.failures:
        print(f"FAILED {failure}")
    print(f"\nWritten to {path.relative_to(REPO)}")
    for extra in bench.files:
        print(f"           {extra.relative_to(REPO)}")
    return 1 if bench.failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # The servers were stopped on the way out (ExitStack); only say so.
        print("\nInterrupted; both servers were stopped.", file=sys.stderr)
        sys.exit(130)
