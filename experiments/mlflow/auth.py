"""Credentials the mlflow client sends, and what they allow in a workspace.

`MLFLOW_TRACKING_TOKEN` arrives as `Authorization: Bearer <token>`;
`MLFLOW_TRACKING_USERNAME` + `MLFLOW_TRACKING_PASSWORD` as Basic, with a token as the password.
A token is a personal API key (every workspace its user may see) or a tracking token (one
workspace). A caller without any role in a workspace is told it does not exist, whether it does
or not, so that outsiders learn nothing about other workspaces.
"""

from __future__ import annotations

import base64
import binascii

from django.http import HttpRequest

from experiments.choices import Role
from experiments.errors import NotFound, PermissionDenied, Unauthenticated
from experiments.models import Workspace
from experiments.selectors.access import (
    Credential,
    Principal,
    authenticate_secret,
    role_on_workspace,
)

MISSING_CREDENTIALS = (
    "Authentication required. Set MLFLOW_TRACKING_TOKEN to an API key or a workspace tracking "
    "token (or MLFLOW_TRACKING_USERNAME and a token as MLFLOW_TRACKING_PASSWORD)."
)
BAD_CREDENTIALS = "The credentials are invalid, expired or revoked."


def request_credential(request: HttpRequest) -> Credential:
    """The credential of the request's Authorization header (Bearer, or Basic with a token as
    the password), not yet looked up."""
    header = request.headers.get("Authorization", "")
    if not header:
        raise Unauthenticated(MISSING_CREDENTIALS)
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer":
        return Credential(credentials.strip())
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated(BAD_CREDENTIALS) from None
        username, _, secret = decoded.partition(":")
        return Credential(secret, username)
    raise Unauthenticated(MISSING_CREDENTIALS)


def authenticate_request(request: HttpRequest) -> Principal:
    credential = request_credential(request)
    principal = authenticate_secret(credential.secret)
    if principal is None or (
        credential.username is not None and credential.username != principal.user.get_username()
    ):
        raise Unauthenticated(BAD_CREDENTIALS)
    return principal


def authorize(
    principal: Principal, workspace: Workspace | None, needed: Role, label: str, *, hint: str = ""
) -> Role:
    """The caller's role in the workspace, if it allows `needed` (see check_role)."""
    role = None if workspace is None else role_on_workspace(principal.user, workspace)
    return check_role(principal, workspace, role, needed, label, hint=hint)


def check_role(
    principal: Principal,
    workspace: Workspace | None,
    role: Role | None,
    needed: Role,
    label: str,
    *,
    hint: str = "",
) -> Role:
    """`role`, the caller's role in the workspace (as role_on_workspace gives it), if the
    caller may use it here and it allows `needed`. A tracking token reaches its own workspace
    only.

    `label` names the workspace as the caller addressed it; a workspace that does not exist and
    one the caller may not see get the same answer (with `hint` on what to do).
    """
    if workspace is None or principal.workspace_id not in (None, workspace.pk):
        role = None
    if role is None:
        raise NotFound(f"Workspace '{label}' does not exist.{hint}")
    if not role.allows(needed):
        raise PermissionDenied(
            f"Your role in workspace '{label}' is {role.label}; this needs {needed.label}."
        )
    return role
