"""Test settings: the portal's settings with private artifact and queue folders per test run.

Celery worker processes started by the tests (tests/workers.py) read the same folders and the
test database from their environment.
"""

from __future__ import annotations

import os
import tempfile

# Read by portal.settings below, and inherited by worker processes.
os.environ.setdefault("CELERY_FILESYSTEM_DIR", tempfile.mkdtemp(prefix="portal-test-celery-"))

from portal.settings import *  # noqa: F403
from portal.settings import STORAGES

ARTIFACT_ROOT = tempfile.mkdtemp(prefix="portal-test-artifacts-")
STORAGES = {
    **STORAGES,
    "artifacts": {**STORAGES["artifacts"], "OPTIONS": {"location": ARTIFACT_ROOT}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
STATIC_ROOT = tempfile.mkdtemp(prefix="portal-test-static-")
# The live server thread must not keep connections open across tests (test database teardown).
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
