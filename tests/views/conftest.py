from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import make_user


@pytest.fixture
def web(db: None) -> Client:
    """Django's test client, signed in as an administrator who sees every workspace (the
    suite's `client` fixture is the mlflow client; access rules have tests of their own)."""
    web = Client()
    web.force_login(make_user("admin", superuser=True))
    return web
