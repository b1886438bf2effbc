"""The workloads, written once and run unchanged against each server through its tracking URI.

Every workload also checks what it measured: counts of stored points, search results and
artifact checksums must be exact, or the run reports the difference.
"""

from __future__ import annotations

import hashlib
import http.client
import itertools
import json
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import requests

from bench.data import (
    BASE_TIME_MS,
    BATCH_SIZE,
    SEARCH_FILTER,
    SEARCH_ORDER,
    batch_body,
    experiment_name,
    history_bodies,
)

JSON = {"Content-Type": "application/json"}
# The page size the mlflow client asks for (GET_METRIC_HISTORY_MAX_RESULTS).
HISTORY_PAGE = 25000


@dataclass
class Target:
    """A server under test, seen from the outside: its tracking URI and its worker processes."""

    name: str
    tracking_uri: str
    worker_pids: Callable[[], list[int]] = list
    access_log: Path | None = None

    def api(self, endpoint: str) -> str:
        return f"{self.tracking_uri.rstrip('/')}/api/2.0/mlflow/{endpoint}"

    def client(self) -> Any:
        import mlflow

        return mlflow.MlflowClient(self.tracking_uri)


def signed_in() -> dict[str, str]:
    """The header that signs raw calls in like the mlflow client (MLFLOW_TRACKING_TOKEN: the
    portal needs it, the reference server ignores it); none without a token."""
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


def http_session() -> requests.Session:
    """A session for raw calls, signed in like the mlflow client."""
    session = requests.Session()
    session.headers.update(signed_in())
    return session


def unique_name(kind: str) -> str:
    return f"bench-{kind}-{uuid.uuid4().hex[:8]}"


def median_seconds(call: Callable[[], Any], reps: int, warmup: int = 1) -> tuple[float, Any]:
    """Median wall time of `call` over `reps` runs after `warmup` untimed ones, and its result."""
    result = None
    for _ in range(warmup):
        result = call()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


class RssSampler:
    """Samples the resident memory of a server's workers in the background; keeps the peak."""

    def __init__(self, pids: Callable[[], list[int]], interval: float = 0.2) -> None:
        self._pids = pids
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_bytes = 0
        self.samples = 0

    def _sample(self) -> None:
        for pid in self._pids():
            try:
                rss = psutil.Process(pid).memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            self.peak_bytes = max(self.peak_bytes, rss)
            self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20


@dataclass
class PostResult:
    seconds: float
    ok: int
    errors: int
    first_error: str = ""


def post_bodies(url: str, bodies: Sequence[bytes], connections: int) -> PostResult:
    """POST every body once over `connections` keep-alive connections; time from first to last.

    Connections are opened before the clock starts, so only request handling is measured.
    """
    counter = itertools.count()
    lock = threading.Lock()
    ready = threading.Barrier(connections + 1)
    outcome = {"ok": 0, "errors": 0, "first_error": ""}

    def worker() -> None:
        session = http_session()
        try:
            session.get(
                url.rsplit("/api/", 1)[0] + "/api/2.0/mlflow/experiments/get?experiment_id=0"
            )
            ready.wait()
            while True:
                with lock:
                    index = next(counter)
                if index >= len(bodies):
                    return
                try:
                    response = session.post(url, data=bodies[index], headers=JSON, timeout=600)
                    good, error = (
                        response.status_code == 200,
                        f"{response.status_code} {response.text[:300]}",
                    )
                except requests.RequestException as exc:
                    good, error = False, repr(exc)
                with lock:
                    if good:
                        outcome["ok"] += 1
                    else:
                        outcome["errors"] += 1
                        outcome["first_error"] = outcome["first_error"] or error
        finally:
            session.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return PostResult(
        seconds=time.perf_counter() - start,
        ok=outcome["ok"],
        errors=outcome["errors"],
        first_error=outcome["first_error"],
    )


def history_count(client: Any, run_id: str, key: str) -> int:
    return len(client.get_metric_history(run_id, key))


# --- server ingest capacity -------------------------------------------------------------------


@dataclass
class IngestResult:
    points_per_s: float
    seconds: float
    sent: int
    errors: int
    expected: int
    found: int
    first_error: str = ""

    @property
    def lost(self) -> int:
        return self.expected - self.found


def ingest_capacity(
    target: Target,
    *,
    batches: int,
    connections: int,
    runs: int = 16,
    keys: int = 10,
    during_post: Any = None,
) -> IngestResult:
    """Ready-made log-batch requests of 1,000 points over several connections, then read back.

    Batch i goes to run i % runs (so concurrent requests hit different runs) with steps that no
    other batch of that run uses: nothing can be deduplicated, every point must be stored.
    """
    client = target.client()
    experiment_id = client.create_experiment(unique_name("ingest"))
    run_ids = [client.create_run(experiment_id).info.run_id for _ in range(runs)]
    bodies = [batch_body(run_ids[i % runs], i, keys=keys, round_=i // runs) for i in range(batches)]
    if during_post is not None:  # e.g. a profiler that must see the requests and nothing else
        during_post.start()
    try:
        posted = post_bodies(target.api("runs/log-batch"), bodies, connections)
    finally:
        if during_post is not None:
            during_post.stop()
    per_key = BATCH_SIZE // keys
    expected = found = 0
    for r, run_id in enumerate(run_ids):
        rounds = len(range(r, batches, runs))
        for k in range(keys):
            expected += rounds * per_key
            found += history_count(client, run_id, f"m{k}")
    return IngestResult(
        points_per_s=posted.ok * BATCH_SIZE / posted.seconds,
        seconds=posted.seconds,
        sent=batches * BATCH_SIZE,
        errors=posted.errors,
        expected=expected,
        found=found,
        first_error=posted.first_error,
    )


# --- one real mlflow client -------------------------------------------------------------------


@dataclass
class ClientResult:
    rate: float
    seconds: float
    expected: int
    found: int | None = None

    @property
    def lost(self) -> int:
        return 0 if self.found is None else self.expected - self.found


def _new_run(client: Any) -> str:
    experiment_id = client.create_experiment(unique_name("client"))
    return client.create_run(experiment_id).info.run_id


def _client_batches(batches: int, keys: int) -> list[list[Any]]:
    """The metrics of `batches` log_batch calls of 1,000 points (`keys` keys x steps)."""
    from mlflow.entities import Metric

    per_key = BATCH_SIZE // keys
    # Each point's timestamp advances with its step, as in every other workload and in a
    # training loop: time moves forward from one batch to the next.
    return [
        [
            Metric(
                f"m{k}",
                (b * BATCH_SIZE + k * per_key + s) / 7.0,
                BASE_TIME_MS + b * per_key + s,
                b * per_key + s,
            )
            for k in range(keys)
            for s in range(per_key)
        ]
        for b in range(batches)
    ]


def _stored_points(client: Any, run_id: str, keys: int) -> int:
    return sum(history_count(client, run_id, f"m{k}") for k in range(keys))


def client_log_batch(
    tracking_uri: str, *, batches: int, keys: int = 10, verify: bool = True
) -> ClientResult:
    """One MlflowClient.log_batch call per 1,000 points (10 keys x 100 steps), sequentially."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    run_id = _new_run(client)
    prepared = _client_batches(batches, keys)
    start = time.perf_counter()
    for metrics in prepared:
        client.log_batch(run_id, metrics=metrics)
    seconds = time.perf_counter() - start
    expected = batches * BATCH_SIZE
    found = _stored_points(client, run_id, keys) if verify else None
    return ClientResult(rate=expected / seconds, seconds=seconds, expected=expected, found=found)


def client_log_batch_paired(
    tracking_uri: str, ceiling_uri: str, *, batches: int, rounds: int = 10, keys: int = 10
) -> tuple[ClientResult, ClientResult]:
    """client_log_batch against a server and against the do-nothing server at `ceiling_uri`,
    in turns: `rounds` rounds of batches/rounds calls to each, the order swapped every round.

    A share of the ceiling is a ratio of two rates; measured minutes apart, on a machine whose
    speed drifts, it moved by more than ten points from run to run. In turns, one client
    process, the drift falls on both alike. Returns (server, ceiling); the server's points are
    read back and counted.
    """
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    null = mlflow.MlflowClient(ceiling_uri)
    run_id, null_run_id = _new_run(client), _new_run(null)
    prepared = _client_batches(batches, keys)
    per_round = max(1, batches // rounds)
    turns = [(client, run_id, [0.0]), (null, null_run_id, [0.0])]
    sent = 0
    for index in range(0, batches, per_round):
        chunk = prepared[index : index + per_round]
        for turn_client, turn_run, seconds in turns if index // per_round % 2 else turns[::-1]:
            start = time.perf_counter()
            for metrics in chunk:
                turn_client.log_batch(turn_run, metrics=metrics)
            seconds[0] += time.perf_counter() - start
        sent += len(chunk) * BATCH_SIZE
    (server_seconds,), (ceiling_seconds,) = turns[0][2], turns[1][2]
    server = ClientResult(
        rate=sent / server_seconds,
        seconds=server_seconds,
        expected=sent,
        found=_stored_points(client, run_id, keys),
    )
    ceiling = ClientResult(rate=sent / ceiling_seconds, seconds=ceiling_seconds, expected=sent)
    return server, ceiling


def client_log_metric(tracking_uri: str, *, calls: int, verify: bool = True) -> ClientResult:
    """MlflowClient.log_metric, one point per call (a training loop's plain logging)."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    run_id = _new_run(client)
    start = time.perf_counter()
    for step in range(calls):
        client.log_metric(
            run_id, "loss", 1.0 / (step + 1), timestamp=BASE_TIME_MS + step, step=step
        )
    seconds = time.perf_counter() - start
    found = history_count(client, run_id, "loss") if verify else None
    return ClientResult(rate=calls / seconds, seconds=seconds, expected=calls, found=found)


def http_log_metric(tracking_uri: str, *, calls: int, verify: bool = True) -> ClientResult:
    """The requests client_log_metric makes, ready-made and sent over one keep-alive connection
    with the standard library's client: the server's own time per log-metric, with as little
    client work around it as a request can have (the do-nothing server's figure shows how
    little). The run is made with the mlflow client before the clock starts."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    run_id = _new_run(client)
    url = urlsplit(f"{tracking_uri.rstrip('/')}/api/2.0/mlflow/runs/log-metric")
    headers = {**JSON, **signed_in()}
    bodies = [
        json.dumps(
            {
                "run_id": run_id,
                "key": "loss",
                "value": 1.0 / (step + 1),
                "timestamp": BASE_TIME_MS + step,
                "step": step,
            }
        ).encode()
        for step in range(calls)
    ]
    connection = http.client.HTTPConnection(url.hostname, url.port)
    try:
        connection.connect()
        start = time.perf_counter()
        for body in bodies:
            connection.request("POST", url.path, body, headers)
            response = connection.getresponse()
            reply = response.read()
            if response.status != 200:
                raise RuntimeError(f"log-metric answered {response.status}: {reply[:300]!r}")
        seconds = time.perf_counter() - start
    finally:
        connection.close()
    found = history_count(client, run_id, "loss") if verify else None
    return ClientResult(rate=calls / seconds, seconds=seconds, expected=calls, found=found)


def client_log_async(tracking_uri: str, *, points: int, verify: bool = True) -> ClientResult:
    """MlflowClient.log_metric(synchronous=False): the client queues and batches; time to flush."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    run_id = _new_run(client)
    start = time.perf_counter()
    operations = [
        client.log_metric(
            run_id,
            "loss",
            1.0 / (step + 1),
            timestamp=BASE_TIME_MS + step,
            step=step,
            synchronous=False,
        )
        for step in range(points)
    ]
    for operation in operations:
        operation.wait()
    seconds = time.perf_counter() - start
    found = history_count(client, run_id, "loss") if verify else None
    return ClientResult(rate=points / seconds, seconds=seconds, expected=points, found=found)


# --- reads ------------------------------------------------------------------------------------


@dataclass
class ReadResult:
    client_seconds: float
    http_seconds: float
    expected: int
    found: int
    detail: str = ""
    # What the probes need to find the data again (experiment_id, run_id).
    ids: dict[str, str] = field(default_factory=dict)
    # The server's whole reply, for measuring the client's own cost of reading it.
    body: bytes = b""

    @property
    def correct(self) -> bool:
        return self.expected == self.found


def _history_over_http(target: Target, session: requests.Session, run_id: str, key: str) -> int:
    count, token = 0, None
    while True:
        params: dict[str, Any] = {
            "run_id": run_id,
            "run_uuid": run_id,
            "metric_key": key,
            "max_results": HISTORY_PAGE,
        }
        if token:
            params["page_token"] = token
        response = session.get(target.api("metrics/get-history"), params=params, timeout=600)
        response.raise_for_status()
        payload = response.json()
        count += len(payload.get("metrics", []))
        token = payload.get("next_page_token")
        if not token:
            return count


def history_body(target: Target, run_id: str, key: str) -> bytes:
    """The whole history as one get-history reply (pages joined): a do-nothing server hands it
    to the client to measure the client's own reading cost."""
    metrics: list[Any] = []
    token = None
    with http_session() as session:
        while True:
            params: dict[str, Any] = {
                "run_id": run_id,
                "metric_key": key,
                "max_results": HISTORY_PAGE,
            }
            if token:
                params["page_token"] = token
            response = session.get(target.api("metrics/get-history"), params=params, timeout=600)
            response.raise_for_status()
            payload = response.json()
            metrics += payload.get("metrics", [])
            token = payload.get("next_page_token")
            if not token:
                return json.dumps({"metrics": metrics}).encode()


def client_read_seconds(
    null_uri: str, endpoint: str, body: bytes, call: Callable[[Any], Any], reps: int
) -> float:
    """Median time of `call(client)` against the do-nothing server answering `endpoint` with
    `body`: what the mlflow client alone spends on that reply."""
    import mlflow

    requests.put(f"{null_uri}/__bench/canned/api/2.0/mlflow/{endpoint}", data=body, timeout=60)
    client = mlflow.MlflowClient(null_uri)
    seconds, _ = median_seconds(lambda: call(client), reps)
    return seconds


def metric_history(target: Target, *, points: int, reps: int) -> ReadResult:
    """get_metric_history of one `points`-long series, through the client and as raw HTTP."""
    client = target.client()
    run_id = _new_run(client)
    seeded = post_bodies(target.api("runs/log-batch"), history_bodies(run_id, points), 4)
    if seeded.errors:
        raise RuntimeError(f"seeding the history failed: {seeded.first_error}")
    client_s, history = median_seconds(lambda: client.get_metric_history(run_id, "loss"), reps)
    with http_session() as session:
        http_s, count = median_seconds(
            lambda: _history_over_http(target, session, run_id, "loss"), reps
        )
    found = len(history) if len(history) == count else min(len(history), count)
    return ReadResult(
        client_s,
        http_s,
        expected=points,
        found=found,
        ids={"run_id": run_id},
        body=history_body(target, run_id, "loss"),
    )


def search_runs(
    target: Target,
    *,
    seed: Callable[[str], None],
    expected_names: list[str],
    max_results: int,
    reps: int,
) -> ReadResult:
    """search_runs with a filter on a param and a metric, ordered by the metric."""
    client = target.client()
    experiment_id = client.create_experiment(unique_name("search"))
    seed(experiment_id)

    def search() -> list[Any]:
        return list(
            client.search_runs(
                [experiment_id],
                filter_string=SEARCH_FILTER,
                order_by=SEARCH_ORDER,
                max_results=max_results,
            )
        )

    client_s, runs = median_seconds(search, reps)
    body = {
        "experiment_ids": [experiment_id],
        "filter": SEARCH_FILTER,
        "order_by": SEARCH_ORDER,
        "max_results": max_results,
        "run_view_type": "ACTIVE_ONLY",
    }
    with http_session() as session:

        def raw() -> bytes:
            response = session.post(target.api("runs/search"), json=body, timeout=600)
            response.raise_for_status()
            return response.content

        http_s, reply = median_seconds(raw, reps)
    # The same page without its continuation token, for the client-cost ceiling.
    page = json.loads(reply)
    page.pop("next_page_token", None)
    names = [run.info.run_name for run in runs]
    found = sum(1 for a, b in zip(names, expected_names, strict=False) if a == b)
    detail = "" if names == expected_names else f"first names {names[:3]} vs {expected_names[:3]}"
    return ReadResult(
        client_s,
        http_s,
        expected=len(expected_names),
        found=found,
        detail=detail,
        ids={"experiment_id": experiment_id},
        body=json.dumps(page).encode(),
    )


@dataclass
class ExperimentSearchResult:
    exact: ReadResult
    prefix: ReadResult


def search_experiments(
    target: Target, *, count: int, seed: Callable[[], None], reps: int
) -> ExperimentSearchResult:
    """search_experiments by exact name and by a name prefix matching 100 experiments."""
    client = target.client()
    seed()
    middle = count // 2
    name = experiment_name(middle)
    prefix = name[:-2]
    expected_prefix = [
        experiment_name(i) for i in range(count) if experiment_name(i).startswith(prefix)
    ]

    def measure(filter_string: str, expected: list[str]) -> ReadResult:
        client_s, found = median_seconds(
            lambda: list(client.search_experiments(filter_string=filter_string)), reps
        )
        body = {"filter": filter_string, "max_results": 1000, "view_type": "ACTIVE_ONLY"}
        with http_session() as session:

            def raw() -> None:
                session.post(
                    target.api("experiments/search"), json=body, timeout=600
                ).raise_for_status()

            http_s, _ = median_seconds(raw, reps)
        names = sorted(e.name for e in found)
        return ReadResult(
            client_s,
            http_s,
            expected=len(expected),
            found=sum(1 for n in names if n in set(expected)),
            detail="" if names == sorted(expected) else f"got {names[:3]}",
        )

    return ExperimentSearchResult(
        exact=measure(f"name = '{name}'", [name]),
        prefix=measure(f"name LIKE '{prefix}%'", expected_prefix),
    )


# --- artifacts --------------------------------------------------------------------------------


@dataclass
class ArtifactResult:
    size_mb: float
    upload_mb_s: float
    download_mb_s: float
    intact: bool


def _random_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    chunk = 4 * 2**20
    with path.open("wb") as handle:
        remaining = size
        while remaining:
            data = os.urandom(min(chunk, remaining))
            digest.update(data)
            handle.write(data)
            remaining -= len(data)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while data := handle.read(4 * 2**20):
            digest.update(data)
    return digest.hexdigest()


def artifact_roundtrip(target: Target, *, size_mb: int, workdir: Path) -> ArtifactResult:
    """log_artifact of a random file, download_artifacts of it, sha256 of both must agree."""
    client = target.client()
    run_id = _new_run(client)
    folder = workdir / f"artifact-{target.name}-{uuid.uuid4().hex[:6]}"
    (folder / "out").mkdir(parents=True)
    try:
        source = folder / "blob.bin"
        digest = _random_file(source, size_mb * 2**20)
        start = time.perf_counter()
        client.log_artifact(run_id, str(source))
        upload = time.perf_counter() - start
        start = time.perf_counter()
        local = client.download_artifacts(run_id, "blob.bin", str(folder / "out"))
        download = time.perf_counter() - start
        intact = _sha256(Path(local)) == digest
        return ArtifactResult(size_mb, size_mb / upload, size_mb / download, intact)
    finally:
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        folder.rmdir()


# --- concurrent clients -----------------------------------------------------------------------


@dataclass
class ConcurrentResult:
    clients: int
    points_per_s: float
    seconds: float
    client_errors: int
    expected: int
    found: int
    first_error: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.expected - self.found


def concurrent_job(args: tuple[str, str, int, int, int, Any]) -> dict[str, Any]:
    """One of N client processes: a run with params, log_metric calls and log_batch calls."""
    tracking_uri, experiment_id, index, metric_calls, batches, barrier = args
    import mlflow
    from mlflow.entities import Metric, Param

    client = mlflow.MlflowClient(tracking_uri)
    errors: list[str] = []
    run_id = ""
    barrier.wait(timeout=300)
    # Wall-clock time, comparable between the processes of this machine.
    start = time.time()
    try:
        run_id = client.create_run(experiment_id, run_name=f"client-{index:02d}").info.run_id
        client.log_batch(run_id, params=[Param(f"p{i}", str(index)) for i in range(5)])
        for step in range(metric_calls):
            client.log_metric(run_id, "lm", float(step), timestamp=BASE_TIME_MS + step, step=step)
        for b in range(batches):
            client.log_batch(
                run_id,
                metrics=[
                    Metric(f"bm{k}", float(b * 100 + s), BASE_TIME_MS + b * 100 + s, b * 100 + s)
                    for k in range(10)
                    for s in range(100)
                ],
            )
        client.set_terminated(run_id)
    except Exception as exc:  # every failure is counted, none may stop the others
        errors.append(repr(exc)[:300])
    return {"run_id": run_id, "errors": errors, "start": start, "end": time.time()}


def concurrent_clients(
    target: Target, *, pool: Any, barrier: Any, clients: int, metric_calls: int, batches: int
) -> ConcurrentResult:
    """`clients` processes log at once (started together by a barrier); then count exactly."""
    client = target.client()
    experiment_id = client.create_experiment(unique_name("concurrent"))
    jobs = [
        (target.tracking_uri, experiment_id, i, metric_calls, batches, barrier)
        for i in range(clients)
    ]
    outcomes = pool.map(concurrent_job, jobs, chunksize=1)
    # From the barrier's release to the last client's end: process start-up is not measured.
    seconds = max(o["end"] for o in outcomes) - min(o["start"] for o in outcomes)
    errors = [error for outcome in outcomes for error in outcome["errors"]]
    per_run = metric_calls + batches * BATCH_SIZE
    expected = clients * per_run
    found = 0
    for outcome in outcomes:
        if not outcome["run_id"]:
            continue
        found += history_count(client, outcome["run_id"], "lm")
        found += sum(history_count(client, outcome["run_id"], f"bm{k}") for k in range(10))
        run = client.get_run(outcome["run_id"])
        if len(run.data.params) != 5 or run.info.status != "FINISHED":
            errors.append(f"run {outcome['run_id']}: params/status not as logged")
    return ConcurrentResult(
        clients=clients,
        points_per_s=expected / seconds,
        seconds=seconds,
        client_errors=len(errors),
        expected=expected,
        found=found,
        first_error=errors[0] if errors else "",
        errors=errors,
    )
