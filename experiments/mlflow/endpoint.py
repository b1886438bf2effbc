"""The one way an MLflow API view is reached: method check, authentication, workspace scope
and role, error mapping.

A view decorated with `endpoint` receives the resolved Workspace as its second argument and
returns a dict (sent as JSON) or a response. It cannot be reached without credentials and a
role in the workspace, and writes cannot reach a workspace that refuses them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import orjson
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_not_required
from django.db import InterfaceError, OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from experiments.choices import ContainerState, Role
from experiments.errors import TOO_LONG_MESSAGE, PortalError, ran_too_long
from experiments.mlflow.auth import authenticate_request, check_role, request_credential
from experiments.mlflow.errors import MlflowError, error_response
from experiments.mlflow.parsing import require_storable
from experiments.models import Run, Workspace
from experiments.selectors.access import (
    Credential,
    workspace_with_role,
    workspace_with_role_and_run,
)
from experiments.services.runs import run_held_for_ingest, run_hold_for_ingest
from experiments.services.workspaces import writes_refused_message

logger = logging.getLogger(__name__)

WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE"
# Requests at the site root without a workspace header go here, like a plain MLflow server.
DEFAULT_WORKSPACE_NAME = "default"

View = Callable[..., Any]
# (request, credential, workspace name, group name) -> whether it stored (see endpoint).
AtOnce = Callable[[HttpRequest, Credential, str, str | None], bool]
T = TypeVar("T")


def json_response(payload: Any, status: int = 200) -> HttpResponse:
    # orjson: a page of a thousand runs in a tenth of json.dumps's time. It would write NaN as
    # null, but no float reaches here unconverted (wire_float writes NaN as "NaN").
    return HttpResponse(orjson.dumps(payload), status=status, content_type="application/json")


def resolve_workspace(
    request: HttpRequest,
    group_name: str | None,
    workspace_name: str | None,
    *,
    user: AbstractBaseUser,
    hold_for_write: bool = False,
    run_uuid: str | None = None,
) -> tuple[Workspace | None, Role | None, str, tuple[Any, ...] | None]:
    """The workspace a request addresses (None if there is none), `user`'s role in it, how
    the request named it, and the row of its run `run_uuid` (None without one, or if not found).

    By its tracking URI prefix, or at the root by MLflow's workspace header (the `default`
    workspace without one). Whether the caller may use it is `auth.check_role`'s decision.
    `hold_for_write`: found and held as workspace_hold_for_write holds it, in the same query
    (inside the write's transaction), with the run held for ingest (see holds_run in endpoint).
    """

    def first(
        name: str, group_name: str | None = None
    ) -> tuple[Workspace | None, Role | None, tuple[Any, ...] | None]:
        if run_uuid is not None and hold_for_write:
            return workspace_with_role_and_run(
                user=user, name=name, group_name=group_name, run_uuid=run_uuid
            )
        found = workspace_with_role(
            user=user, name=name, group_name=group_name, hold=hold_for_write
        )
        return *found, None

    name, group, label = workspace_address(request, group_name, workspace_name)
    workspace, role, run = first(name, group)
    return workspace, role, label, run


def workspace_address(
    request: HttpRequest, group_name: str | None, workspace_name: str | None
) -> tuple[str, str | None, str]:
    """The name of the workspace a request addresses, its group's name (None at the site root,
    where workspace names are looked up alone) and how the request named it (see
    resolve_workspace)."""
    header = (request.headers.get(WORKSPACE_HEADER) or "").strip()
    if workspace_name is not None:
        if header and header != workspace_name:
            raise MlflowError.invalid(
                f"The {WORKSPACE_HEADER} header names workspace '{header}', but the tracking "
                f"URI addresses workspace '{workspace_name}'. Unset MLFLOW_WORKSPACE or make "
                "them agree."
            )
        return workspace_name, group_name or "", f"{group_name}/{workspace_name}"
    name = header or DEFAULT_WORKSPACE_NAME
    return name, None, name


# At the site root a request names its workspace with MLflow's header, or means `default`.
_ROOT_HINT = (
    " Use a workspace tracking URI (see `manage.py mlflow_env`) or name a workspace you have "
    "a role in with MLFLOW_WORKSPACE."
)


def held_run(request: HttpRequest, workspace: Workspace, run_id: str) -> Run:
    """The run `run_id`, held for ingest: found with the workspace (endpoint's holds_run) or
    now (run_hold_for_ingest)."""
    run = getattr(request, "held_run", None)
    if run is not None and run.uuid == run_id:
        return run
    return run_hold_for_ingest(workspace=workspace, run_id=run_id)


def _require_writable(workspace: Workspace) -> None:
    # The workspace row is held (or, for non-atomic writes, read a moment ago): a deletion
    # that starts later waits for this write or is seen here.
    if not workspace.is_writable or workspace.resource_group.state != ContainerState.ACTIVE:
        raise MlflowError("RESOURCE_CONFLICT", writes_refused_message(workspace))


def _first_statement(work: Callable[[], T]) -> T:
    """work(), whose first statement stands in for Django's connection health check
    (CONN_HEALTH_CHECKS).

    That check costs a round trip of its own (SELECT 1) before the first statement of every
    request that reuses a connection: a tenth of a log-batch's time on the server. Here the
    request's first statement runs instead; if the connection died while it was idle (the
    database restarted, an idle timeout), it fails, and `work` runs once more on a new
    connection. `work` must be safe to run twice: the credential lookup reads (an API key's
    last use may be written), and a log-metric or log-batch sent at once stores each point
    once however often it is sent.
    """
    if (
        connection.connection is None
        or not connection.health_check_enabled
        or connection.health_check_done
        or connection.in_atomic_block
    ):
        return work()
    connection.health_check_done = True
    try:
        return work()
    except (OperationalError, InterfaceError) as error:
        logger.info("Reconnecting to the database after a failed first statement: %s", error)
        connection.close()
        return work()


def _at_once(
    at_once: AtOnce, request: HttpRequest, group: str | None, workspace: str | None
) -> bool:
    """Whether at_once stored the request's data; False where it did not take the request
    (names or credentials that the usual way refuses included: it says what is wrong, after
    authenticating)."""
    try:
        require_storable([group, workspace, request.headers.get(WORKSPACE_HEADER)])
        name, group_name, _ = workspace_address(request, group, workspace)
        credential = request_credential(request)
    except (MlflowError, PortalError):
        return False
    checked = connection.health_check_done
    stored = _first_statement(lambda: at_once(request, credential, name, group_name))
    if not stored:
        # at_once may have declined without a statement: the usual way's first one checks.
        connection.health_check_done = checked
    return stored


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
            if ran_too_long(error):
                logger.warning("Statement timeout during %s: %s", request.path, error)
                return error_response(MlflowError("DEADLINE_EXCEEDED", TOO_LONG_MESSAGE))
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


@handle_errors
def at_once_response(
    request: HttpRequest, view: View, group: str | None = None, workspace: str | None = None
) -> HttpResponse | None:
    """The answer to a call of `view` (an endpoint with at_once) that at_once stored, or None
    where the call must go the usual way, through the view (see LoggingLane)."""
    if request.method not in view.allowed_methods:  # type: ignore[attr-defined]
        return None
    if not _at_once(view.at_once, request, group, workspace):  # type: ignore[attr-defined]
        return None
    return json_response({})


def endpoint(
    *methods: str,
    write: bool = False,
    atomic: bool = True,
    holds_run: Callable[[HttpRequest], str | None] | None = None,
    at_once: AtOnce | None = None,
) -> Callable[[View], View]:
    """Route an MLflow view. `write`: non-GET calls are refused while the workspace is being
    deleted. `atomic`: the view runs in one transaction that holds the workspace against the
    deletion starting midway; artifact transfers, which can take minutes, pass False (the
    deletion removes files after the runs they belong to, see services/deletion.py).

    `holds_run`: for the logging calls, the id of the run the view will hold for ingest, read
    from the request (None where it cannot tell). The run is then found and held in the
    workspace's query, one round trip fewer, and the view takes it with held_run().

    `at_once`: for log_metric and log_batch, the whole call in one round trip, authentication
    included, where every check allows it (services.runs.run_log_metric_at_once and
    run_log_batch_at_once). Called with the request, its credential and the workspace's
    address (workspace_address), it returns whether it stored the call's data (the answer is
    then MLflow's empty one), or False having stored nothing: then the call goes the usual
    way, which says what is wrong. LoggingLane (mlflow/middleware.py) calls it, through
    at_once_response, before the page middleware; the view runs only where it declines.
    """
    allowed = frozenset(methods)

    def decorate(view: View) -> View:
        @login_not_required  # callers authenticate with tokens (mlflow/auth.py)
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
            writing = write and request.method != "GET"
            principal = _first_statement(lambda: authenticate_request(request))
            # Names from the URL and the workspace header reach database lookups.
            require_storable([group, workspace, request.headers.get(WORKSPACE_HEADER), kwargs])
            needed = Role.CONTRIBUTOR if writing else Role.READER
            hint = _ROOT_HINT if group is None else ""
            request.principal = principal  # type: ignore[attr-defined]
            if writing and atomic:
                run_uuid = holds_run(request) if holds_run is not None else None
                with transaction.atomic():
                    # Found and held in one query (see workspace_hold_for_write).
                    resolved, role, label, run = resolve_workspace(
                        request,
                        group,
                        workspace,
                        user=principal.user,
                        hold_for_write=True,
                        run_uuid=run_uuid,
                    )
                    check_role(principal, resolved, role, needed, label, hint=hint)
                    assert resolved is not None  # check_role refuses a missing workspace
                    _require_writable(resolved)
                    if run is not None:
                        request.held_run = run_held_for_ingest(resolved, run)  # type: ignore[attr-defined]
                    result = view(request, resolved, **kwargs)
            else:
                resolved, role, label, _ = resolve_workspace(
                    request, group, workspace, user=principal.user
                )
                check_role(principal, resolved, role, needed, label, hint=hint)
                assert resolved is not None
                if writing:
                    _require_writable(resolved)
                result = view(request, resolved, **kwargs)
            if isinstance(result, HttpResponseBase):
                return result
            return json_response(result)

        wrapper.allowed_methods = allowed  # type: ignore[attr-defined]
        wrapper.at_once = at_once  # type: ignore[attr-defined]
        return wrapper

    return decorate
