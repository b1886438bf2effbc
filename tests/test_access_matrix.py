"""The role matrix: owner, member and outsider personas (and a reader) x read, write and delete
x the pages, the portal's API and the MLflow API (with its artifact proxy and the native
workspace header)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import requests
from django.test import Client

from experiments.choices import Role
from experiments.models import DeletionJob, RoleAssignment, Workspace
from experiments.tracking import tracking_uri
from tests.factories import grant, make_api_key, make_experiment, make_group, make_run, make_user
from tests.factories import make_workspace as new_workspace

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class World:
    workspace: Workspace
    sibling: Workspace  # same group: what the owner's group role also covers
    users: dict[str, Any]


PERSONAS = ["owner", "member", "reader", "outsider"]


@pytest.fixture
def world() -> World:
    group = make_group("team")
    workspace = new_workspace("vision", group)
    sibling = new_workspace("speech", group)
    users = {name: make_user(name) for name in PERSONAS}
    grant(users["owner"], Role.OWNER, group=group)
    grant(users["member"], Role.CONTRIBUTOR, workspace=workspace)
    grant(users["reader"], Role.READER, workspace=workspace)
    return World(workspace, sibling, users)


def _web(user: Any) -> Client:
    web = Client()
    web.force_login(user)
    return web


# --- pages ------------------------------------------------------------------------------------

PAGES = {
    # persona: (read the workspace page, change access, delete the workspace)
    "owner": (200, 302, 302),
    "member": (200, 403, 403),
    "reader": (200, 403, 403),
    "outsider": (404, 404, 404),
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_pages(world: World, persona: str) -> None:
    web = _web(world.users[persona])
    read = web.get("/groups/team/workspaces/vision/")
    write = web.post(
        "/manage/groups/team/workspaces/vision/access/",
        {"username": "outsider", "role": "reader"},
    )
    delete = web.post("/manage/groups/team/workspaces/vision/delete/", {"confirm_name": "vision"})
    assert (read.status_code, write.status_code, delete.status_code) == PAGES[persona]
    granted = RoleAssignment.objects.filter(user__username="outsider").exists()
    assert granted == (persona == "owner")
    assert DeletionJob.objects.exists() == (persona == "owner")


def test_pages_need_a_signed_in_user(world: World) -> None:
    for path in ("/", "/groups/team/workspaces/vision/", "/manage/groups/", "/account/api-keys/"):
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_forms_need_the_csrf_token(world: World) -> None:
    web = Client(enforce_csrf_checks=True)
    web.force_login(world.users["owner"])
    url = "/manage/groups/team/workspaces/vision/delete/"
    forged = web.post(url, {"confirm_name": "vision"})
    assert forged.status_code == 403
    assert not DeletionJob.objects.exists()
    # The form the page serves carries the token, and goes through.
    token = web.get(url).context["csrf_token"]
    sent = web.post(url, {"confirm_name": "vision", "csrfmiddlewaretoken": str(token)})
    assert sent.status_code == 302
    assert DeletionJob.objects.count() == 1


def test_lists_show_only_what_a_persona_may_see(world: World) -> None:
    home = _web(world.users["member"]).get("/").content.decode()
    assert "team" in home
    group_page = _web(world.users["member"]).get("/groups/team/").content.decode()
    assert "vision" in group_page
    assert "speech" not in group_page  # the member's role is on vision only
    owner_page = _web(world.users["owner"]).get("/groups/team/").content.decode()
    assert "speech" in owner_page
    assert "team" not in _web(world.users["outsider"]).get("/").content.decode()


# --- the portal's API -------------------------------------------------------------------------

API = {
    # persona: (read the workspace, create a workspace in its group, delete the workspace)
    "owner": (200, 201, 202),
    "member": (200, 403, 403),
    "reader": (200, 403, 403),
    "outsider": (404, 400, 404),
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_portal_api(world: World, persona: str, live_server: Any) -> None:
    headers = {"Authorization": f"Bearer {make_api_key(world.users[persona])}"}
    base = f"{live_server.url}/portal-api/v1"
    read = requests.get(f"{base}/workspaces/vision/", headers=headers, timeout=30)
    write = requests.post(
        f"{base}/workspaces/",
        json={"name": f"new-{persona}", "resource_group": "team"},
        headers=headers,
        timeout=30,
    )
    delete = requests.post(
        f"{base}/workspaces/vision/delete/",
        json={"confirm_name": "vision"},
        headers=headers,
        timeout=30,
    )
    assert (read.status_code, write.status_code, delete.status_code) == API[persona]
    # The outsider is told the group does not exist, as for a group that really does not.
    if persona == "outsider":
        assert "does not exist" in write.text


def test_portal_api_needs_credentials(world: World, live_server: Any) -> None:
    base = f"{live_server.url}/portal-api/v1"
    anonymous = requests.get(f"{base}/workspaces/", timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    bad = requests.get(
        f"{base}/workspaces/", headers={"Authorization": "Bearer pak_nope"}, timeout=30
    )
    assert bad.status_code == 401
    # A workspace tracking token is for the mlflow client, not for the portal's API.
    minted = requests.post(
        f"{base}/workspaces/vision/tracking-token/",
        headers={"Authorization": f"Bearer {make_api_key(world.users['member'])}"},
        timeout=30,
    ).json()["token"]
    refused = requests.get(
        f"{base}/workspaces/", headers={"Authorization": f"Bearer {minted}"}, timeout=30
    )
    assert refused.status_code == 401


def test_portal_api_lists_only_visible_workspaces(world: World, live_server: Any) -> None:
    def names(persona: str) -> set[str]:
        headers = {"Authorization": f"Bearer {make_api_key(world.users[persona])}"}
        page = requests.get(f"{live_server.url}/portal-api/v1/workspaces/", headers=headers)
        return {w["name"] for w in page.json()["results"]}

    assert names("owner") == {"vision", "speech"}
    assert names("member") == {"vision"}
    assert names("outsider") == set()


# --- the MLflow API ---------------------------------------------------------------------------

MLFLOW = {
    # persona: (get run, log metric, delete run, artifact upload, read by native header)
    "owner": (200, 200, 200, 200, 200),
    "member": (200, 200, 200, 200, 200),
    "reader": (200, 403, 403, 403, 200),
    "outsider": (404, 404, 404, 404, 404),
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_mlflow_api(world: World, persona: str, live_server: Any) -> None:
    run = make_run(make_experiment(world.workspace))
    uri = tracking_uri(live_server.url, world.workspace)
    headers = {"Authorization": f"Bearer {make_api_key(world.users[persona])}"}
    got = requests.get(
        f"{uri}/api/2.0/mlflow/runs/get", params={"run_id": run.uuid}, headers=headers, timeout=30
    )
    logged = requests.post(
        f"{uri}/api/2.0/mlflow/runs/log-metric",
        json={"run_id": run.uuid, "key": "m", "value": 1, "timestamp": 1},
        headers=headers,
        timeout=30,
    )
    uploaded = requests.put(
        f"{uri}/api/2.0/mlflow-artifacts/artifacts/{run.experiment.wire_id}/{run.uuid}"
        "/artifacts/notes.txt",
        data=b"notes",
        headers=headers,
        timeout=30,
    )
    native = requests.get(
        f"{live_server.url}/api/2.0/mlflow/runs/get",
        params={"run_id": run.uuid},
        headers={**headers, "X-MLFLOW-WORKSPACE": world.workspace.name},
        timeout=30,
    )
    deleted = requests.post(
        f"{uri}/api/2.0/mlflow/runs/delete", json={"run_id": run.uuid}, headers=headers
    )
    statuses = (got, logged, deleted, uploaded, native)
    assert tuple(r.status_code for r in statuses) == MLFLOW[persona]
    codes = {403: "PERMISSION_DENIED", 404: "RESOURCE_DOES_NOT_EXIST"}
    for response in statuses:
        if response.status_code in codes:
            assert response.json()["error_code"] == codes[response.status_code]
