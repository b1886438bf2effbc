"""The portal's REST API (/portal-api/v1/)."""

from __future__ import annotations

import pytest
from django.test import Client

from experiments.choices import ContainerState, DeletionKind
from experiments.models import DeletionJob, ResourceGroup, Workspace
from experiments.services.runs import run_delete
from tests.factories import make_group, make_rich_run, make_workspace, seed_runs

pytestmark = pytest.mark.django_db(transaction=True)
API = "/portal-api/v1"


def test_create_list_and_describe_groups_and_workspaces(web_client: Client) -> None:
    created = web_client.post(
        f"{API}/resource-groups/", {"name": "team-a", "description": "d"}, "application/json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["name"] == "team-a"
    created = web_client.post(
        f"{API}/workspaces/", {"name": "vision", "resource_group": "team-a"}, "application/json"
    )
    assert created.status_code == 201, created.content
    workspace = Workspace.objects.get(name="vision")
    make_rich_run(workspace)
    seed_runs(workspace, runs=2, points_per_run=4, files_per_run=1)

    listed = web_client.get(f"{API}/resource-groups/").json()["results"]
    counts = {
        g["name"]: (g["workspace_count"], g["experiment_count"], g["run_count"]) for g in listed
    }
    assert counts["team-a"] == (1, 3, 3)
    group = web_client.get(f"{API}/resource-groups/team-a/").json()
    assert group["contents"] == {
        "workspaces": 1,
        "experiments": 3,  # Default, and one per factory call
        "runs": 3,
        "logged_models": 1,
        "metric_points": 6 + 8,
        "files": 3 + 2,
        "bytes": group["contents"]["bytes"],
    }
    assert group["contents"]["bytes"] > 0
    described = web_client.get(f"{API}/workspaces/vision/").json()
    assert described["resource_group"] == "team-a"
    assert described["contents"]["runs"] == 3


def test_refusals_have_clear_statuses(web_client: Client) -> None:
    make_workspace("taken", make_group("taken-group"))
    post = web_client.post
    duplicate = post(f"{API}/resource-groups/", {"name": "taken-group"}, "application/json")
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.json()["detail"]
    bad = post(f"{API}/resource-groups/", {"name": "no spaces!"}, "application/json")
    assert bad.status_code == 400
    missing_group = post(
        f"{API}/workspaces/", {"name": "w1", "resource_group": "nope"}, "application/json"
    )
    assert missing_group.status_code == 400
    assert web_client.get(f"{API}/resource-groups/nope/").status_code == 404
    wrong = post(
        f"{API}/resource-groups/taken-group/delete/", {"confirm_name": "x"}, "application/json"
    )
    assert wrong.status_code == 400
    assert "does not match" in wrong.json()["detail"]
    empty = post(f"{API}/resource-groups/taken-group/delete/", {}, "application/json")
    assert empty.status_code == 400


def test_delete_a_group_and_follow_the_job(web_client: Client) -> None:
    make_workspace("api-ws", make_group("api-group"))
    response = web_client.post(
        f"{API}/resource-groups/api-group/delete/",
        {"confirm_name": "api-group"},
        "application/json",
    )
    assert response.status_code == 202
    job = response.json()
    assert (job["kind"], job["state"], job["target_name"]) == (
        DeletionKind.RESOURCE_GROUP,
        "pending",
        "api-group",
    )
    assert ResourceGroup.objects.get(name="api-group").state == ContainerState.DELETING
    fetched = web_client.get(f"{API}/deletion-jobs/{job['id']}/").json()
    assert fetched["id"] == job["id"]
    # A second workspace cannot be added to a group being deleted.
    refused = web_client.post(
        f"{API}/workspaces/", {"name": "late", "resource_group": "api-group"}, "application/json"
    )
    assert refused.status_code == 409
    retry = web_client.post(f"{API}/deletion-jobs/{job['id']}/retry/")
    assert retry.status_code == 409
    audit = web_client.get(f"{API}/audit-log/").json()["results"]
    assert [entry["action"] for entry in audit] == ["deletion.requested"]


def test_workspace_delete_and_purge(web_client: Client) -> None:
    workspace = make_workspace("purge-ws", make_group("purge-api"))
    run_delete(run=make_rich_run(workspace))
    purge = web_client.post(
        f"{API}/workspaces/purge-ws/purge/", {"older_than_days": 0}, "application/json"
    )
    assert purge.status_code == 202
    assert purge.json()["kind"] == DeletionKind.PURGE
    deleted = web_client.post(
        f"{API}/workspaces/purge-ws/delete/", {"confirm_name": "purge-ws"}, "application/json"
    )
    assert deleted.status_code == 202
    assert DeletionJob.objects.count() == 2


@pytest.mark.parametrize("path", ["resource-groups", "workspaces", "deletion-jobs", "audit-log"])
def test_list_query_count_does_not_grow_with_rows(
    web_client: Client, django_assert_max_num_queries: object, path: str
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for_listing() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert web_client.get(f"{API}/{path}/").status_code == 200
        return len(captured)

    def add(index: int) -> None:
        group = make_group(f"g{index}")
        make_workspace(f"w{index}", group)
        web_client.post(
            f"{API}/resource-groups/g{index}/delete/",
            {"confirm_name": f"g{index}"},
            "application/json",
        )

    add(0)
    one = queries_for_listing()
    for index in range(1, 6):
        add(index)
    assert queries_for_listing() == one


@pytest.mark.parametrize(
    "query",
    [
        "limit=5616901168915656191020621107298304",  # was a 500: bigint out of range
        "limit=1001",
        "limit=0",
        "limit=abc",
        "limit=%2B5",
        "offset=-1",
        "offset=null",
    ],
)
def test_a_page_outside_the_rules_is_refused(web_client: Client, query: str) -> None:
    make_workspace("paged", make_group("paged-group"))
    response = web_client.get(f"{API}/workspaces/?{query}")
    assert response.status_code == 400, response.content
    field = query.partition("=")[0]
    assert "whole number" in response.json()[field][0]


def test_pages_walk_the_whole_list(web_client: Client) -> None:
    for index in range(5):
        make_group(f"paged-{index}")
    names, offset = [], 0
    while True:
        page = web_client.get(f"{API}/resource-groups/?limit=2&offset={offset}").json()
        names += [group["name"] for group in page["results"]]
        offset += 2
        if page["next"] is None:
            break
    assert names == [f"paged-{index}" for index in range(5)]
    assert web_client.get(f"{API}/resource-groups/?limit=1000").json()["count"] == 5


@pytest.mark.parametrize("kind", ["resource-groups", "workspaces"])
def test_a_name_with_a_trailing_newline_is_refused(web_client: Client, kind: str) -> None:
    make_group("home")
    created = web_client.post(
        f"{API}/{kind}/", {"name": "fine\n", "resource_group": "home"}, "application/json"
    )
    assert created.status_code == 400, created.content
    assert "fine" in created.json()["detail"]
    assert not ResourceGroup.objects.filter(name__startswith="fine").exists()
    assert not Workspace.objects.filter(name__startswith="fine").exists()


@pytest.mark.parametrize("older_than_days", [True, 1e308, -1, "soon"])
def test_a_purge_age_that_is_not_a_number_of_days_is_refused(
    web_client: Client, older_than_days: object
) -> None:
    make_workspace("aged", make_group("aged-group"))
    response = web_client.post(
        f"{API}/workspaces/aged/purge/", {"older_than_days": older_than_days}, "application/json"
    )
    assert response.status_code == 400, response.content
    assert "older_than_days" in response.json()
    assert not DeletionJob.objects.exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "audit-log/1.5/"), ("post", "deletion-jobs/0.5/retry/"), ("get", "no-such-thing/")],
)
def test_a_path_the_api_does_not_have_answers_in_json(
    web_client: Client, method: str, path: str
) -> None:
    response = getattr(web_client, method)(f"{API}/{path}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
