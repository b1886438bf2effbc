"""The one way an MLflow API view is reached: method check, workspace scope, error mapping.

A view decorated with `endpoint` receives the resolved Workspace as its second argument and
returns a dict (sent as JSON) or a response. It cannot be reached without a workspace, and
writes cannot reach a workspace that refuses them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

import orjson
from django.db import InterfaceError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from experiments.choices import ContainerState
from experiments.errors import PortalError
from experiments.mlflow.errors import MlflowError, error_response
from experiments.mlflow.parsing import require_storable
from experiments.models import Workspace
from experiments.services.workspaces import workspace_get_held_for_write, writes_refused_message

logger = logging.getLogger(__name__)

WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE"
# Requests at the site root without a workspace header go here, like a plain MLflow server.
DEFAULT_WORKSPACE_NAME = "default"

View = Callable[..., Any]


def json_response(payload: Any, status: int = 200) -> HttpResponse:
    # orjson: a page of a thousand runs in a tenth of json.dumps's time. It would write NaN as
    # null, but no float reaches here unconverted (wire_float writes NaN as "NaN").
    return HttpResponse(orjson.dumps(payload), status=status, content_type="application/json")


def resolve_workspace(
    request: HttpRequest,
    group_name: str | None,
    workspace_name: str | None,
    *,
    hold_for_write: bool = False,
) -> Workspace:
    """The workspace a request addresses: by its URI prefix, or by MLflow's workspace header.

    `hold_for_write`: read it as workspace_hold_for_write holds it (inside the transaction).
    """
    header = (request.headers.get(WORKSPACE_HEADER) or "").strip()

    def first(name: str, group_name: str | None = None) -> Workspace | None:
        if hold_for_write:
            return workspace_get_held_for_write(name=name, group_name=group_name)
        workspaces = Workspace.objects.filter(name=name)
        if group_name is not None:
            workspaces = workspaces.filter(resource_group__name=group_name)
        return workspaces.select_related("resource_group").first()

    if workspace_name is not None:
        if header and header != workspace_name:
            raise MlflowError.invalid(
                f"The {WORKSPACE_HEADER} header names workspace '{header}', but the tracking "
                f"URI addresses workspace '{workspace_name}'. Unset MLFLOW_WORKSPACE or make "
                "them agree."
            )
        workspace = first(workspace_name, group_name or "")
        if workspace is None:
            raise MlflowError(
                "RESOURCE_DOES_NOT_EXIST",
                f"Workspace '{group_name}/{workspace_name}' does not exist.",
            )
        return workspace
    name = header or DEFAULT_WORKSPACE_NAME
    workspace = first(name)
    if workspace is None:
        if not header:
            raise MlflowError(
                "RESOURCE_DOES_NOT_EXIST",
                f"No workspace was named and the '{DEFAULT_WORKSPACE_NAME}' workspace does not "
                "exist. Use a workspace tracking URI (see `manage.py mlflow_env`) or set "
                "MLFLOW_WORKSPACE.",
            )
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"Workspace '{name}' does not exist.")
    return workspace


def _require_writable(workspace: Workspace) -> None:
    # The workspace row is held (or, for non-atomic writes, read a moment ago): a deletion
    # that starts later waits for this write or is seen here.
    if not workspace.is_writable or workspace.resource_group.state != ContainerState.ACTIVE:
        raise MlflowError("RESOURCE_CONFLICT", writes_refused_message(workspace))


def handle_errors(view: View) -> View:
    """Answer every failure with MLflow's error body and the status the client expects."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except MlflowError as error:
            return error_response(error)
        except PortalError as error:
            return error_response(MlflowError.from_portal_error(error))
        except (OperationalError, InterfaceError) as error:
            # The client retries 503s; every write is one transaction, so nothing was kept.
            logger.warning("Database unavailable during %s: %s", request.path, error)
            return error_response(
                MlflowError(
                    "TEMPORARILY_UNAVAILABLE",
                    "The tracking database is temporarily unavailable; retry the request.",
                )
            )
        except Exception:
            # A bug, not bad input: log it and still answer in MLflow's format.
            logger.exception("Unexpected error in %s %s", request.method, request.path)
            return error_response(
                MlflowError("INTERNAL_ERROR", "The server failed to handle this request.")
            )

    return wrapper


def endpoint(*methods: str, write: bool = False, atomic: bool = True) -> Callable[[View], View]:
    """Route an MLflow view. `write`: non-GET calls are refused while the workspace is being
    deleted. `atomic`: the view runs in one transaction that holds the workspace against the
    deletion starting midway; artifact transfers, which can take minutes, pass False (the
    deletion removes files after the runs they belong to, see services/deletion.py).
    """
    allowed = frozenset(methods)

    def decorate(view: View) -> View:
        @csrf_exempt
        @handle_errors
        @wraps(view)
        def wrapper(
            request: HttpRequest,
            group: str | None = None,
            workspace: str | None = None,
            **kwargs: Any,
        ) -> HttpResponse:
            if request.method not in allowed:
                raise MlflowError(
                    "BAD_REQUEST",
                    f"Method {request.method} is not allowed for {request.path}; "
                    f"use {', '.join(sorted(allowed))}.",
                    status=405,
                )
            # Names from the URL and the workspace header reach database lookups.
            require_storable([group, workspace, request.headers.get(WORKSPACE_HEADER), kwargs])
            if write and request.method != "GET" and atomic:
                with transaction.atomic():
                    # Found and held in one query (see workspace_hold_for_write).
                    resolved = resolve_workspace(request, group, workspace, hold_for_write=True)
                    _require_writable(resolved)
                    result = view(request, resolved, **kwargs)
            else:
                resolved = resolve_workspace(request, group, workspace)
                if write and request.method != "GET":
                    _require_writable(resolved)
                result = view(request, resolved, **kwargs)
            if isinstance(result, HttpResponseBase):
                return result
            return json_response(result)

        wrapper.allowed_methods = allowed  # type: ignore[attr-defined]
        return wrapper

    return decorate
