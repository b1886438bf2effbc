"""Permanently remove a workspace's runs, experiments and logged models that are in MLflow's
deleted lifecycle stage, with their metrics and artifact files: what `mlflow gc` does.

    python manage.py purge_deleted team-a/vision --older-than-days 30 --yes --wait
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from experiments.errors import PortalError
from experiments.management.commands._deletion import report_and_wait
from experiments.services.audit import Actor
from experiments.services.deletion import deleted_objects_purge, purge_age_ms


class Command(BaseCommand):
    help = "Purge deleted runs and experiments of a workspace (like `mlflow gc`)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("target", help="<resource group>/<workspace>")
        parser.add_argument(
            "--older-than-days",
            type=float,
            default=0,
            help="only what was deleted at least this many days ago (default: everything)",
        )
        parser.add_argument("--yes", action="store_true", help="confirm the purge")
        parser.add_argument("--wait", action="store_true", help="wait until the job ends")

    def handle(
        self,
        *args: Any,
        target: str,
        older_than_days: float,
        yes: bool,
        wait: bool,
        **options: Any,
    ) -> None:
        group, slash, workspace = target.partition("/")
        if not slash or not group or not workspace:
            raise CommandError("Name the workspace as <resource group>/<workspace>.")
        if older_than_days < 0:
            raise CommandError("--older-than-days must not be negative.")
        if not yes:
            raise CommandError(
                f"This permanently removes the deleted runs and experiments of '{target}'. "
                "Pass --yes to confirm."
            )
        try:
            job = deleted_objects_purge(
                group_name=group,
                workspace_name=workspace,
                actor=Actor.cli(),
                older_than_ms=purge_age_ms(older_than_days),
            )
        except PortalError as error:
            raise CommandError(error.message) from None
        report_and_wait(self, job, wait=wait)
