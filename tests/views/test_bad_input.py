"""Whatever a client puts in an address or query string, pages answer 2xx-4xx, never 500."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from experiments.services.runs import MetricPoint, run_log_batch
from tests.factories import make_experiment, make_run, make_workspace

pytestmark = pytest.mark.django_db

ODD = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "0",
    "-1",
    "1e9999",
    "nan",
    "%",
    "%00",
    "'",
    '"',
    "\\",
    "../..",
    "a" * 5000,
    "ü€😀",
]


def test_odd_values_in_every_parameter_are_never_a_server_error(web: Client) -> None:
    workspace = make_workspace()
    experiment = make_experiment(workspace, "odd")
    run = make_run(experiment)
    run_log_batch(run=run, metrics=[MetricPoint("m", 1.0, 1, 0)], params=[("p", "1")])
    group = workspace.resource_group.name

    def at(name: str, *args: str) -> str:
        return reverse(f"experiments:{name}", args=[group, workspace.name, *args])

    pages = {
        "/": ["q"],
        reverse("experiments:search-results"): ["q", "in"],
        at("workspace-detail"): ["q", "page"],
        at("experiment-detail", experiment.wire_id): [
            "filter", "order", "status", "lifecycle", "page", "per_page", "params", "metrics",
        ],
        at("run-artifacts", run.uuid): ["path"],
        at("run-artifact-download", run.uuid): ["path"],
        at("run-artifact-raw", run.uuid): ["path"],
        at("compare"): ["metrics", "x", "smooth", "log", "outliers", "group", "sx", "sy"],
        at("compare-data"): ["runs", "metrics", "x", "smooth", "group", "sx", "sy"],
    }  # fmt: skip
    for address, parameters in pages.items():
        for parameter in parameters:
            for value in ODD:
                query = {parameter: value}
                if "compare" in address and parameter != "runs":
                    query["runs"] = run.uuid
                response = web.get(address, query)
                assert response.status_code < 500, (address, parameter, value)
    for path in ("0", "99999999999999999999999", "-1", "abc", "%20", "%00", "a%00"):
        assert web.get(at("experiment-detail", path)).status_code < 500
        assert web.get(at("run-detail", path)).status_code < 500
        assert web.get(f"/runs/{path}/").status_code < 500
        assert web.get(f"/groups/{path}/").status_code < 500
        assert web.get(f"/groups/{group}/workspaces/{path}/").status_code < 500
        assert web.get(f"/experiments/{path}/").status_code < 500
