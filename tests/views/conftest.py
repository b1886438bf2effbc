from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def web() -> Client:
    """Django's test client (the suite's `client` fixture is the mlflow client)."""
    return Client()
