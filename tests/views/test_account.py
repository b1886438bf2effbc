"""The account pages: personal API keys, and "Log to this workspace" with a fresh token."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from experiments.choices import Role
from experiments.models import ApiKey, TrackingToken
from tests.factories import grant, make_group, make_user, make_workspace

pytestmark = pytest.mark.django_db(transaction=True)


def _signed_in(user: User) -> Client:
    web = Client()
    web.force_login(user)
    return web


def _exports(page: str) -> dict[str, str]:
    block = re.search(r'<pre class="code" id="export-lines"><code>(.*?)</code>', page, re.S)
    assert block is not None, page
    return dict(re.findall(r"export (\w+)=(\S+)", html.unescape(block.group(1))))


def test_log_to_workspace_lines_log_with_the_real_client(
    live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = make_group("team")
    workspace, elsewhere = make_workspace("team-ws", group), make_workspace("team-other", group)
    user = make_user("carol")
    grant(user, Role.CONTRIBUTOR, group=group)
    url = reverse("experiments:log-to-workspace", args=["team", "team-ws"])
    # when: the button on the workspace page, sent to the live server's address
    page = _signed_in(user).post(url, HTTP_HOST=urlsplit(live_server.url).netloc)
    # then: the lines point the unmodified client at the workspace, as the user
    assert page.status_code == 200
    exports = _exports(page.content.decode())
    assert exports["MLFLOW_TRACKING_URI"] == (
        f"{live_server.url}/mlflow/v1.0/resourceGroups/team/workspaces/team-ws"
    )
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", exports["MLFLOW_TRACKING_TOKEN"])
    client = MlflowClient(exports["MLFLOW_TRACKING_URI"])
    run = client.create_run("0")
    client.log_metric(run.info.run_id, "loss", 0.5)
    assert client.get_run(run.info.run_id).data.metrics == {"loss": 0.5}
    # The token is a tracking token for this workspace only, for about an hour.
    token = TrackingToken.objects.get(user=user)
    assert token.workspace == workspace
    lifetime = token.expires_at - timezone.now()
    assert timedelta(minutes=55) < lifetime <= timedelta(hours=1)
    with pytest.raises(MlflowException) as raised:
        MlflowClient(exports["MLFLOW_TRACKING_URI"].replace("team-ws", elsewhere.name)).get_run(
            run.info.run_id
        )
    assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_log_to_workspace_is_a_post_for_members_only() -> None:
    workspace = make_workspace("team-ws", make_group("team"))
    member, outsider = make_user("member"), make_user("outsider")
    grant(member, Role.READER, workspace=workspace)
    url = reverse("experiments:log-to-workspace", args=["team", "team-ws"])
    assert _signed_in(member).get(url).status_code == 405  # a token is minted on purpose only
    assert _signed_in(outsider).post(url).status_code == 404
    assert not TrackingToken.objects.exists()
    # The workspace page offers the button (a form with its CSRF token).
    page = _signed_in(member).get(reverse("experiments:workspace-detail", args=["team", "team-ws"]))
    assert f'action="{url}"' in page.content.decode()
    assert "csrfmiddlewaretoken" in page.content.decode()


def test_api_keys_are_shown_once_stored_hashed_and_revocable(live_server: Any) -> None:
    user = make_user("dave")
    web = _signed_in(user)
    keys_page = reverse("experiments:api-keys")
    # when
    created = web.post(keys_page, {"name": "laptop", "expires_in_days": "30"}).content.decode()
    # then: shown once, stored as its hash only
    secret = re.search(r"\bpak_[A-Za-z0-9_-]+", created).group(0)
    key = ApiKey.objects.get(user=user)
    assert key.name == "laptop"
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {key.prefix, key.key_hash, key.name}
    assert secret.startswith(key.prefix)
    assert timedelta(days=29) < key.expires_at - timezone.now() <= timedelta(days=30)
    assert secret not in web.get(keys_page).content.decode()
    # It signs in to the portal's API until it is revoked.
    api = f"{live_server.url}/portal-api/v1/workspaces/"
    auth = {"Authorization": f"Bearer {secret}"}
    assert requests.get(api, headers=auth, timeout=30).status_code == 200
    revoked = web.post(reverse("experiments:api-key-revoke", args=[key.pk]))
    assert revoked.status_code == 302
    assert requests.get(api, headers=auth, timeout=30).status_code == 401
    # Someone else's key cannot be revoked from your page.
    other = make_user("erin")
    _signed_in(other).post(keys_page, {"name": "hers"})
    theirs = ApiKey.objects.get(user=other)
    assert web.post(reverse("experiments:api-key-revoke", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


@pytest.mark.parametrize("days", ["0", "-1", "abc", "100000", "²", "٣"])
def test_api_key_expiry_must_be_sensible(days: str) -> None:
    web = _signed_in(make_user("frank"))
    page = web.post(reverse("experiments:api-keys"), {"name": "k", "expires_in_days": days})
    assert page.status_code == 200
    assert "Expiry must be" in page.content.decode()
    assert not ApiKey.objects.exists()
