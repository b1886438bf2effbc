"""The `default` workspace: where MLflow requests without a workspace (a plain
`MLFLOW_TRACKING_URI=http://host:port`) are tracked, like on a fresh MLflow server."""

from __future__ import annotations

import time

from django.db import migrations


def create_default_workspace(apps, schema_editor):  # noqa: ANN001, ANN201
    ResourceGroup = apps.get_model("experiments", "ResourceGroup")
    Workspace = apps.get_model("experiments", "Workspace")
    Experiment = apps.get_model("experiments", "Experiment")
    group, _ = ResourceGroup.objects.get_or_create(
        name="default", defaults={"description": "Workspaces created through MLflow's API."}
    )
    workspace, created = Workspace.objects.get_or_create(
        name="default", defaults={"resource_group": group}
    )
    if created:
        now = time.time_ns() // 1_000_000
        Experiment.objects.create(
            workspace=workspace,
            name="Default",
            is_default=True,
            creation_time=now,
            last_update_time=now,
        )


class Migration(migrations.Migration):
    dependencies = [("experiments", "0001_initial")]

    operations = [migrations.RunPython(create_default_workspace, migrations.RunPython.noop)]
