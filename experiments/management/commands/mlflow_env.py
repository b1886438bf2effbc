"""Print shell lines that point the mlflow client at a workspace, creating it if missing.

    eval "$(python manage.py mlflow_env team-a/vision)"

The token printed is a tracking token: it reaches this workspace only, as --user, until it
expires (--days).
"""

from __future__ import annotations

import os
import secrets
import shlex
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from experiments.choices import Role
from experiments.errors import PortalError
from experiments.selectors.access import role_on_workspace
from experiments.services.access import role_assign, tracking_token_create
from experiments.services.workspaces import workspace_ensure
from experiments.tracking import tracking_uri


class Command(BaseCommand):
    help = "Create <group>/<workspace> if missing and print export lines for the mlflow client."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("target", help="<resource group>/<workspace>")
        parser.add_argument(
            "--url",
            default=None,
            help="The portal's public address (default: PORTAL_URL or http://127.0.0.1:$PORT).",
        )
        parser.add_argument(
            "--user",
            default="admin",
            help="Who the token logs as (default: admin, created as a superuser if missing).",
        )
        parser.add_argument(
            "--days", type=int, default=30, help="How long the token lasts (default: 30 days)."
        )

    def handle(
        self, *args: Any, target: str, url: str | None, user: str, days: int, **options: Any
    ) -> None:
        group_name, slash, workspace_name = target.partition("/")
        if not slash or not group_name or not workspace_name or "/" in workspace_name:
            raise CommandError("Name the workspace as <resource group>/<workspace>.")
        if not 0 < days <= 3650:
            raise CommandError("--days must be between 1 and 3650.")
        try:
            workspace, created = workspace_ensure(
                group_name=group_name, workspace_name=workspace_name
            )
        except PortalError as error:
            raise CommandError(error.message) from None
        if created:
            self.stderr.write(f"Created workspace {group_name}/{workspace_name}.")
        account = self._user(user)
        if role_on_workspace(account, workspace) is None:
            role_assign(user=account, workspace=workspace, role=Role.OWNER)
        _token, secret = tracking_token_create(
            user=account, workspace=workspace, lifetime=timedelta(days=days)
        )
        base = url or settings.PORTAL_URL or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        self.stdout.write(
            f"export MLFLOW_TRACKING_URI={shlex.quote(tracking_uri(base, workspace))}"
        )
        self.stdout.write(f"export MLFLOW_TRACKING_TOKEN={shlex.quote(secret)}")

    def _user(self, username: str) -> Any:
        users = get_user_model()
        account = users.objects.filter(username=username).first()
        if account is not None:
            return account
        if username != "admin":
            raise CommandError(f"There is no user '{username}'.")
        # A first run on a new machine: the person at the terminal signs in with this.
        password = secrets.token_urlsafe(12)
        account = users.objects.create_superuser(username=username, email="", password=password)
        self.stderr.write(
            f"Created the superuser 'admin' with the password {password} (shown once; change "
            "it with: python manage.py changepassword admin)."
        )
        return account
