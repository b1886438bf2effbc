"""Print shell lines that point the mlflow client at a workspace, creating it if missing.

eval "$(python manage.py mlflow_env team-a/vision)"
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from experiments.errors import PortalError
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

    def handle(self, *args: Any, target: str, url: str | None, **options: Any) -> None:
        group_name, slash, workspace_name = target.partition("/")
        if not slash or not group_name or not workspace_name or "/" in workspace_name:
            raise CommandError("Name the workspace as <resource group>/<workspace>.")
        try:
            workspace, created = workspace_ensure(
                group_name=group_name, workspace_name=workspace_name
            )
        except PortalError as error:
            raise CommandError(error.message) from None
        base = url or settings.PORTAL_URL or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        if created:
            self.stderr.write(f"Created workspace {group_name}/{workspace_name}.")
        self.stdout.write(
            f"export MLFLOW_TRACKING_URI={shlex.quote(tracking_uri(base, workspace))}"
        )
