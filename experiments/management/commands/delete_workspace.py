"""Delete one workspace and everything in it, in the background.

python manage.py delete_workspace team-a/vision --yes --wait
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from experiments.errors import PortalError
from experiments.management.commands._deletion import report_and_wait
from experiments.services.audit import Actor
from experiments.services.deletion import workspace_delete


class Command(BaseCommand):
    help = "Delete a workspace with its runs, metrics and artifact files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("target", help="<resource group>/<workspace>")
        parser.add_argument("--yes", action="store_true", help="confirm the deletion")
        parser.add_argument("--wait", action="store_true", help="wait until the job ends")

    def handle(self, *args: Any, target: str, yes: bool, wait: bool, **options: Any) -> None:
        group, slash, workspace = target.partition("/")
        if not slash or not group or not workspace:
            raise CommandError("Name the workspace as <resource group>/<workspace>.")
        if not yes:
            raise CommandError(
                f"This permanently deletes workspace '{target}' and everything in it. "
                "Pass --yes to confirm."
            )
        try:
            job = workspace_delete(
                group_name=group, workspace_name=workspace, confirm_name=workspace,
                actor=Actor.cli(),
            )  # fmt: skip
        except PortalError as error:
            raise CommandError(error.message) from None
        report_and_wait(self, job, wait=wait)
