"""Request bodies under gunicorn, as production serves the portal (portal/wsgi.py reads
gunicorn's wsgi.input in the sizes asked for): a sign-in form and a log-batch of 1,000
metrics arrive whole. Uploads under gunicorn are in tests/mlflow/test_artifacts.py."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from mlflow import MlflowClient
from mlflow.entities import Metric

from tests.factories import make_user
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
