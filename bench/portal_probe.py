"""In-process probes of the portal for the people optimising it (run by bench.run in a
subprocess with the portal's settings; also usable by hand):

  python -m bench.portal_probe explain --tracking-path /mlflow/v1.0/... --experiment-id 3 \
      --run-id <hex> --key loss
  python -m bench.portal_probe profile-ingest --tracking-path /mlflow/v1.0/... --batches 50

`explain` sends search_runs and get-history through Django's test client, records every SQL
statement they execute and prints the query count and EXPLAIN (ANALYZE, BUFFERS) of each.
`profile-ingest` runs log-batch requests under cProfile and prints the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time
from typing import Any

import django


def _client() -> Any:
    from django.test import Client

    return Client(HTTP_HOST="127.0.0.1")


def _clip(text: str, limit: int = 400) -> str:
    """Long IN (...) lists of run ids say nothing after the first few."""
    return text if len(text) <= limit else f"{text[:limit]} ... ({len(text):,} characters)"


def _explain_requests(label: str, send: Any) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    send()  # warm: connection, URL resolver, imports
    profiler = cProfile.Profile()
    with CaptureQueriesContext(connection) as captured:
        start = time.perf_counter()
        profiler.enable()
        response = send()
        profiler.disable()
        total = time.perf_counter() - start
    sql = sum(float(query["time"]) for query in captured.captured_queries)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    lines = [
        f"## {label}",
        f"HTTP {response.status_code}, {len(response.content):,} bytes, "
        f"{len(captured.captured_queries)} SQL statements; {total * 1000:.0f} ms in the view "
        f"(under cProfile), of which {sql * 1000:.0f} ms waiting for SQL",
        "",
        "Top functions by own time (cProfile):",
        *[line for line in out.getvalue().splitlines() if line.strip()][2:],
        "",
    ]
    for number, query in enumerate(captured.captured_queries, 1):
        sql = query["sql"]
        lines.append(f"### statement {number} ({float(query['time']) * 1000:.1f} ms)")
        lines.append(_clip(sql, 3000))
        if sql.lstrip().upper().startswith(("SELECT", "WITH")):
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                lines += ["", *(_clip(row[0]) for row in cursor.fetchall())]
        lines.append("")
    return lines


def explain(*, tracking_path: str, experiment_id: str, run_id: str, key: str) -> str:
    from bench.data import SEARCH_FILTER, SEARCH_ORDER

    client = _client()
    api = f"{tracking_path.rstrip('/')}/api/2.0/mlflow"
    search_body = json.dumps(
        {
            "experiment_ids": [experiment_id],
            "filter": SEARCH_FILTER,
            "order_by": SEARCH_ORDER,
            "max_results": 1000,
            "run_view_type": "ACTIVE_ONLY",
        }
    )
    lines = _explain_requests(
        f"search_runs: {SEARCH_FILTER} ORDER BY {SEARCH_ORDER[0]}, max_results 1000",
        lambda: client.post(
            f"{api}/runs/search", data=search_body, content_type="application/json"
        ),
    )
    lines += _explain_requests(
        f"get-history: run {run_id}, key {key}, first page of 25,000",
        lambda: client.get(
            f"{api}/metrics/get-history",
            {"run_id": run_id, "metric_key": key, "max_results": 25000},
        ),
    )
    return "\n".join(lines)


def profile_ingest(*, tracking_path: str, batches: int, top: int = 35) -> str:
    from bench.data import batch_body

    client = _client()
    api = f"{tracking_path.rstrip('/')}/api/2.0/mlflow"
    created = client.post(
        f"{api}/experiments/create",
        data=json.dumps({"name": f"profile-{id(client)}"}),
        content_type="application/json",
    ).json()
    run = client.post(
        f"{api}/runs/create",
        data=json.dumps({"experiment_id": created["experiment_id"]}),
        content_type="application/json",
    ).json()["run"]["info"]["run_id"]
    bodies = [batch_body(run, i, keys=10, round_=i) for i in range(batches)]
    # One untimed request: imports and connection setup are not what the profile is about.
    client.post(f"{api}/runs/log-batch", data=bodies[0], content_type="application/json")
    profiler = cProfile.Profile()
    profiler.enable()
    for body in bodies[1:]:
        response = client.post(f"{api}/runs/log-batch", data=body, content_type="application/json")
        assert response.status_code == 200, response.content[:300]
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    out.write(
        f"cProfile of {batches - 1} log-batch requests of 1,000 metrics (Django test client)\n"
    )
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    explain_parser = sub.add_parser("explain")
    explain_parser.add_argument("--tracking-path", required=True)
    explain_parser.add_argument("--experiment-id", required=True)
    explain_parser.add_argument("--run-id", required=True)
    explain_parser.add_argument("--key", default="loss")
    profile_parser = sub.add_parser("profile-ingest")
    profile_parser.add_argument("--tracking-path", required=True)
    profile_parser.add_argument("--batches", type=int, default=50)
    args = parser.parse_args()
    django.setup()
    if args.command == "explain":
        print(
            explain(
                tracking_path=args.tracking_path,
                experiment_id=args.experiment_id,
                run_id=args.run_id,
                key=args.key,
            )
        )
    else:
        print(profile_ingest(tracking_path=args.tracking_path, batches=args.batches))


if __name__ == "__main__":
    main()
