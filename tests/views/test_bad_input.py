"""Whatever a client puts in an address or query string, pages answer 2xx-4xx, never 500."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from experiments.models import ApiKey, DeletionJob
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


def test_a_nul_anywhere_in_a_page_or_portal_api_request_is_refused(web: Client) -> None:
    workspace = make_workspace()
    group = workspace.resource_group.name
    addresses = [
        "/manage/groups/%00/",
        "/manage/groups/%00/delete/",
        "/manage/groups/%00/access/",
        f"/manage/groups/{group}/workspaces/%00/",
        f"/manage/groups/{group}/workspaces/a%00/purge/",
        f"/manage/groups/{group}/workspaces/%00/access/",
        f"/groups/{group}/workspaces/{workspace.name}/?q=a%00",
        "/portal-api/v1/workspaces/?resource_group=%00",
        f"/portal-api/v1/workspaces/{workspace.name}/experiments/?name=%00",
    ]
    for address in addresses:
        response = web.get(address)
        assert response.status_code == 400, address
        assert b"NUL character" in response.content, address
    forms = {
        f"/manage/groups/{group}/workspaces/{workspace.name}/access/": {
            "username": "bob\x00",
            "role": "reader",
        },
        f"/manage/groups/{group}/access/": {"username": "bob\x00", "role": "reader"},
        "/account/api-keys/": {"name": "a\x00b"},
    }
    for address, form in forms.items():
        response = web.post(address, form)
        assert response.status_code == 400, address
        assert b"NUL character" in response.content, address
    assert not ApiKey.objects.exists()
    assert web.get("/portal-api/v1/workspaces/").json()["count"] >= 1


@pytest.mark.parametrize("days", ["1e308", "1e12", "inf", "nan"])
def test_a_purge_age_beyond_a_century_is_a_form_error(web: Client, days: str) -> None:
    workspace = make_workspace()
    address = reverse(
        "experiments:workspace-purge", args=[workspace.resource_group.name, workspace.name]
    )
    assert web.get(address, {"older_than_days": days}).status_code == 200
    response = web.post(address, {"older_than_days": days})
    assert response.status_code == 200
    assert not DeletionJob.objects.exists()


def test_the_experiment_page_shows_only_columns_the_experiment_has(web: Client) -> None:
    workspace = make_workspace()
    experiment = make_experiment(workspace, "columns")
    run_log_batch(run=make_run(experiment), metrics=[], params=[("lr", "0.1")])
    address = reverse(
        "experiments:experiment-detail",
        args=[workspace.resource_group.name, workspace.name, experiment.wire_id],
    )
    asked = ",".join(f"k{index}" for index in range(3000))
    page = web.get(address, {"params": f"lr,{asked}", "metrics": asked})
    assert page.status_code == 200
    assert page.context["shown_params"] == ["lr"]
    assert page.context["shown_metrics"] == []
    assert len(page.content) < 200_000
    long_filter = "params.lr = '" + "x" * 10_000 + "'"
    assert web.get(address, {"filter": long_filter}).status_code == 400
