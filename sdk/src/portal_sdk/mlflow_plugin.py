"""The mlflow request-header provider of the SDK (entry point `mlflow.request_header_provider`).

While a workspace is active (Workspace.get_mlflow_tracking_uri) and the client's tracking URI
is that workspace's, every request the client sends carries a tracking token of the workspace,
renewed before it expires. A token the user sets (MLFLOW_TRACKING_TOKEN, or a username and
password) takes precedence: the client puts its own Authorization header over this one.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from mlflow.tracking.request_header.abstract_request_header_provider import (
    RequestHeaderProvider,
)

if TYPE_CHECKING:
    from portal_sdk.workspace import Workspace

_active: Workspace | None = None
_lock = threading.Lock()


def activate(workspace: Workspace | None) -> None:
    """Make `workspace` the one whose tokens are sent (None: send none)."""
    global _active
    with _lock:
        _active = workspace


def active() -> Workspace | None:
    return _active


def _tracking_uri() -> str:
    import mlflow

    return (mlflow.get_tracking_uri() or "").rstrip("/")


class PortalRequestHeaderProvider(RequestHeaderProvider):
    def in_context(self) -> bool:
        workspace = _active
        # Only requests to the workspace's own tracking URI: a token never goes elsewhere.
        return workspace is not None and _tracking_uri() == workspace.tracking_uri

    def request_headers(self) -> dict[str, str]:
        workspace = _active
        if workspace is None:
            return {}
        return {"Authorization": f"Bearer {workspace.tracking_token()}"}
