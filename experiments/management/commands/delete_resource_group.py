"""Delete a resource group and everything in it, in the background (the same job as the
portal's confirmation page).

    python manage.py delete_resource_group team-a --yes --wait
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from experiments.errors import PortalError
from experiments.management.commands._deletion import report_and_wait
from experiments.services.audit import Actor
from experiments.services.deletion import resource_group_delete


class Command(BaseCommand):
    help = "Delete a resource group with its workspaces, runs, metrics and artifact files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the resource group's name")
        parser.add_argument("--yes", action="store_true", help="confirm the deletion")
        parser.add_argument("--wait", action="store_true", help="wait until the job ends")

    def handle(self, *args: Any, name: str, yes: bool, wait: bool, **options: Any) -> None:
        if not yes:
            raise CommandError(
                f"This permanently deletes resource group '{name}' and everything in it. "
                "Pass --yes to confirm."
            )
        try:
            job = resource_group_delete(group_name=name, confirm_name=name, actor=Actor.cli())
        except PortalError as error:
            raise CommandError(error.message) from None
        report_and_wait(self, job, wait=wait)
