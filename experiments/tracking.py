from __future__ import annotations

from urllib.parse import quote

from experiments.models import Workspace


def tracking_uri(base_url: str, workspace: Workspace) -> str:
    """The MLflow tracking URI of a workspace on the portal at `base_url`."""
    group = quote(workspace.resource_group.name, safe="")
    return f"{base_url.rstrip('/')}/mlflow/v1.0/resourceGroups/{group}/workspaces/{workspace.name}"
