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
from portal.settings import STORAGES, VAR_DIR

# The SQLite test database lives under var/, which a fresh clone does not have.
VAR_DIR.mkdir(parents=True, exist_ok=True)

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
# Tests hold locks on purpose: give up waiting sooner than production does.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["OPTIONS"]["timeout"] = 3  # noqa: F405
else:
    DATABASES["default"]["OPTIONS"]["options"] = "-c lock_timeout=5000"  # noqa: F405
# Django's live test server serves MEDIA_ROOT at MEDIA_URL in front of the portal; with the
# default empty MEDIA_URL it would answer every path from the working directory first, which
# production (gunicorn) never does.
MEDIA_URL = "/test-media/"
MEDIA_ROOT = tempfile.mkdtemp(prefix="portal-test-media-")
