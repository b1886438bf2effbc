"""Log to an experiment portal workspace with the unmodified mlflow client."""

from __future__ import annotations

from portal_sdk.workspace import PortalError, Workspace

__all__ = ["PortalError", "Workspace"]
