"""The portal under gunicorn, as production serves it (portal/wsgi.py): request bodies
arrive whole (a sign-in form, a log-batch of 1,000 metrics; uploads are in
tests/mlflow/test_artifacts.py), and a statement past the web server's timeout is cancelled."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import transaction
from mlflow import MlflowClient
from mlflow.entities import Metric

from experiments.models import ResourceGroup, Run, Workspace
from experiments.tracking import tracking_uri
from tests.factories import make_api_key, make_experiment, make_run, make_user
from tests.servers import gunicorn_portal
from tests.workers import worker_environment


@pytest.fixture
def portal_url(transactional_db: None) -> Iterator[str]:
    with gunicorn_portal(worker_environment()) as url:
        yield url


def test_a_sign_in_form_under_gunicorn_signs_in(portal_url: str) -> None:
    # given: a password hashed as the server's settings hash them (the tests' settings use a
    # faster hasher the server does not know)
    user = make_user("form-user")
    user.password = PBKDF2PasswordHasher().encode("a long enough password", "saltsaltsalt")
    user.save()
    browser = requests.Session()
    form = browser.get(f"{portal_url}/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token is not None, form.text[:500]

    # when
    answer = browser.post(
        f"{portal_url}/accounts/login/",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": "form-user",
            "password": "a long enough password",
        },
        headers={"Referer": f"{portal_url}/accounts/login/"},
        allow_redirects=False,
        timeout=30,
    )

    # then: signed in, and the session opens a page
    assert answer.status_code == 302, answer.text[:500]
    assert "sessionid" in browser.cookies
    assert browser.get(f"{portal_url}/", timeout=30).status_code == 200


def test_a_log_batch_of_1000_metrics_under_gunicorn_is_stored_whole(
    gunicorn_tracking: str,
) -> None:
    client = MlflowClient()
    run_id = client.create_run("0").info.run_id
    metrics = [
        Metric(f"key-{step % 10}", step * 0.5, 1_700_000_000_000 + step, step)
        for step in range(1000)
    ]

    client.log_batch(run_id, metrics=metrics)

    for key in range(10):
        history = client.get_metric_history(run_id, f"key-{key}")
        assert sorted((m.step, m.value) for m in history) == [
            (step, step * 0.5) for step in range(key, 1000, 10)
        ]


@pytest.mark.postgres_only
def test_a_statement_past_the_web_servers_timeout_answers_deadline_exceeded(
    workspace: Workspace, auth_headers: dict[str, str]
) -> None:
    # given: a portal whose statements may run 300 ms, and a run locked by another transaction
    # (lock_timeout stays at 10 s, so the wait ends by the statement timeout)
    run = make_run(make_experiment(workspace))
    env = worker_environment(DB_STATEMENT_TIMEOUT_MS="300")
    with gunicorn_portal(env) as url:
        api = f"{tracking_uri(url, workspace)}/api/2.0/mlflow"
        body = {"run_id": run.uuid, "key": "lr", "value": "0.1"}
        with transaction.atomic():
            Run.objects.select_for_update().get(pk=run.pk)

            # when
            waited = requests.post(f"{api}/runs/log-parameter", json=body, headers=auth_headers)

        # then: MLflow's code for it, and nothing stored; the same call passes once unlocked
        assert waited.status_code == 504, waited.text
        assert waited.json()["error_code"] == "DEADLINE_EXCEEDED"
        assert "ran longer than the server allows" in waited.json()["message"]
        assert not run.params.exists()
        assert requests.post(f"{api}/runs/log-parameter", json=body, headers=auth_headers).ok
        assert run.params.get().value == "0.1"

        # and the portal's own API says the same in its format
        admin = {"Authorization": f"Bearer {make_api_key(make_user('admin', superuser=True))}"}
        new_workspace = {"name": "late", "resource_group": workspace.resource_group.name}
        with transaction.atomic():
            ResourceGroup.objects.select_for_update().get(pk=workspace.resource_group.pk)
            waited = requests.post(
                f"{url}/portal-api/v1/workspaces/", json=new_workspace, headers=admin
            )
        assert waited.status_code == 504, waited.text
        assert "ran longer than the server allows" in waited.json()["detail"]
        assert not Workspace.objects.filter(name="late").exists()
