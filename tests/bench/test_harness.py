"""The benchmark harness (bench/) must not rot: its workloads, do-nothing server, report and
profile summary run here against the live test server in a couple of seconds. Nothing here
asserts a speed; `python -m bench.run` measures (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest
import requests

from bench.profiling import summarize
from bench.report import Ceiling, Row, rows_markdown
from bench.run import in_fresh_process
from bench.servers import free_port, null_server
from bench.workloads import (
    RssSampler,
    Target,
    client_log_batch,
    client_log_batch_paired,
    client_log_metric,
    http_log_metric,
    ingest_capacity,
)


def test_ingest_workload_reads_back_every_point(tracking: str) -> None:
    # given the live server, sampled as if it were a worker process
    target = Target("portal", tracking, worker_pids=lambda: [os.getpid()])

    # when three ready-made batches go over two connections to two runs
    with RssSampler(target.worker_pids) as sampler:
        result = ingest_capacity(target, batches=3, connections=2, runs=2, keys=4)

    # then every point is counted back and nothing failed
    assert result.errors == 0, result.first_error
    assert result.expected == result.found == 3000
    assert result.points_per_s > 0
    assert sampler.peak_mb > 0


def test_client_ceiling_against_the_do_nothing_server(tmp_path: Path) -> None:
    server, uri = null_server(workdir=tmp_path, port=free_port())
    server.start()
    try:
        server.wait_ready(f"{uri}/api/2.0/mlflow/experiments/get?experiment_id=0", timeout=15)
        # As bench.run measures it: in a process of its own.
        batches = in_fresh_process(client_log_batch, uri, batches=2, verify=False)
        calls = client_log_metric(uri, calls=5, verify=False)
        requests_alone = http_log_metric(uri, calls=5, verify=False)
    finally:
        server.stop()

    assert batches.expected == 2000
    assert batches.rate > 0
    assert calls.expected == 5
    assert requests_alone.expected == 5
    assert requests_alone.rate > 0
    assert server.process is None


def test_log_metric_requests_over_one_connection_are_all_stored(tracking: str) -> None:
    result = http_log_metric(tracking, calls=7)

    assert result.expected == result.found == 7
    assert result.rate > 0


def test_log_batch_in_turns_with_the_ceiling_counts_what_the_server_stored(
    tracking: str, tmp_path: Path
) -> None:
    server, uri = null_server(workdir=tmp_path, port=free_port())
    server.start()
    try:
        server.wait_ready(f"{uri}/api/2.0/mlflow/experiments/get?experiment_id=0", timeout=15)
        # Five batches in rounds of two: the last round is a single batch.
        portal, ceiling = client_log_batch_paired(tracking, uri, batches=5, rounds=2)
    finally:
        server.stop()

    assert portal.expected == portal.found == ceiling.expected == 5000
    assert portal.rate > 0
    assert ceiling.rate > 0
    assert ceiling.found is None


def test_a_paused_server_takes_no_cpu_until_it_is_resumed(tmp_path: Path) -> None:
    server, uri = null_server(workdir=tmp_path, port=free_port())
    server.start()
    try:
        ready = f"{uri}/api/2.0/mlflow/experiments/get?experiment_id=0"
        server.wait_ready(ready, timeout=15)
        root = psutil.Process(server.process.pid)
        with server.paused():
            assert root.status() == psutil.STATUS_STOPPED
            with pytest.raises(requests.Timeout):
                requests.get(ready, timeout=0.5)
        assert root.status() != psutil.STATUS_STOPPED
        assert requests.get(ready, timeout=5).status_code == 200
    finally:
        server.stop()


def test_one_client_measurements_run_in_a_new_process() -> None:
    assert in_fresh_process(os.getpid) != os.getpid()
    assert in_fresh_process(divmod, 7, 2) == (3, 1)


def test_a_row_with_lost_data_fails_whatever_its_speed() -> None:
    fast_but_lossy = Row("ingest", "points/s", 100.0, 5000.0, check=lambda r, p: p >= 10 * r)
    fast_but_lossy.problems.append("lost points")
    slow = Row("search", "ms", 100.0, 50.0, higher_is_better=False, check=lambda r, p: r >= 5 * p)

    assert fast_but_lossy.ratio == 50.0
    assert fast_but_lossy.verdict == "FAIL"
    assert slow.ratio == 2.0
    assert slow.verdict == "FAIL"
    assert "| ingest | points/s | 100 | 5,000 | 50.00x |" in rows_markdown([fast_but_lossy])


def test_a_time_ceiling_is_reached_by_being_as_fast() -> None:
    parse_floor = Ceiling("client alone", "ms", 100.0, None, 400.0, higher_is_better=False)
    copy_rate = Ceiling("COPY", "rows/s", 200_000.0, 5_000.0, 50_000.0)

    assert parse_floor.share(parse_floor.portal) == "25%"
    assert parse_floor.share(parse_floor.reference) == ""
    assert copy_rate.share(copy_rate.portal) == "25%"


def test_profile_summary_counts_only_request_handling(tmp_path: Path) -> None:
    raw = tmp_path / "profile.raw"
    raw.write_text(
        "run (threading.py:1);WSGIHandler.__call__ (django/core/handlers/wsgi.py:2);"
        "execute (django/db/backends/utils.py:3) 30\n"
        "run (threading.py:1);WSGIHandler.__call__ (django/core/handlers/wsgi.py:2);"
        "loads (json/__init__.py:4) 10\n"
        "select (selectors.py:5) 60\n"
    )

    summary = summarize(raw)

    assert summary.startswith("40 samples inside request handling")
    assert "75.0%  execute (django/db/backends/utils.py)" in summary
    assert "select" not in summary


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_storage_layouts_store_every_point_of_every_batch() -> None:
    from django.db import connection

    from bench.storage_layouts import LAYOUTS, measure

    settings = connection.settings_dict
    dsn = (
        f"postgresql://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST']}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )
    timings = measure(dsn, batches=3)
    assert set(timings) == set(LAYOUTS)
    assert all(len(values) == 3 and min(values) > 0 for values in timings.values())
