"""Production settings pass Django's deployment checks (README: Production)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# Set by the test run (the browser tests need it; DEBUG and SECRET_KEY may come from a
# developer's shell), never by a deployment.
_NOT_IN_PRODUCTION = {"DJANGO_ALLOW_ASYNC_UNSAFE", "DEBUG", "SECRET_KEY"}


def _check_deploy(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in _NOT_IN_PRODUCTION}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
    )


def test_production_settings_pass_check_deploy() -> None:
    result = _check_deploy(
        PORTAL_PRODUCTION="true",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="portal.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_the_development_secret_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_PRODUCTION": "true"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_embedded_default_is_flagged_by_check_deploy() -> None:
    # The development defaults (HTTP, debug key) are what `make run` serves on 127.0.0.1; the
    # deployment check says so rather than passing them.
    result = _check_deploy()
    assert result.returncode != 0
