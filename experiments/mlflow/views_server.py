"""Server-level MLflow endpoints: capabilities, version, native workspaces, unknown paths."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from experiments.choices import Role
from experiments.errors import Conflict, PermissionDenied
from experiments.mlflow.auth import authenticate_request, authorize
from experiments.mlflow.endpoint import DEFAULT_WORKSPACE_NAME, handle_errors, json_response
from experiments.mlflow.errors import MlflowError
from experiments.mlflow.parsing import RequestFields
from experiments.mlflow.wire import workspace_message
from experiments.models import ResourceGroup, Run, Workspace
from experiments.models.groups import workspace_name_problem
from experiments.selectors.access import group_role, readable_workspaces
from experiments.services.access import role_assign
from experiments.services.workspaces import resource_group_create, workspace_create

MLFLOW_COMPATIBLE_VERSION = "3.17.2"
# Workspaces created through MLflow's own workspace API land in this resource group.
NATIVE_WORKSPACES_GROUP = "default"

SERVER_INFO = {
    "store_type": "SqlStore",
    "workspaces_enabled": True,
    "multipart_uploads_enabled": False,
    "multipart_downloads_enabled": False,
    "artifacts_presigned_only": False,
    "trace_archival_enabled": False,
}


@login_not_required
@csrf_exempt
def server_info(request: HttpRequest, **_: str) -> HttpResponse:
    # Answered without touching the database: clients probe it before anything else.
    return json_response(SERVER_INFO)


@login_not_required
def version(request: HttpRequest, **_: str) -> HttpResponse:
    return HttpResponse(MLFLOW_COMPATIBLE_VERSION, content_type="text/plain")


@login_not_required
@csrf_exempt
@handle_errors
def not_found(request: HttpRequest, **_: str) -> HttpResponse:
    raise MlflowError(
        "ENDPOINT_NOT_FOUND", f"No API endpoint {request.method} {request.path} on this server."
    )


@login_not_required
def tracking_home(request: HttpRequest, group: str, workspace: str) -> HttpResponse:
    """The page at a tracking URI: turns the run link the client prints into a portal link."""
    return render(
        request,
        "experiments/tracking_home.html",
        {"group": group, "workspace": workspace},
    )


@login_not_required
@csrf_exempt
@handle_errors
def workspaces(request: HttpRequest) -> HttpResponse:
    principal = authenticate_request(request)
    if request.method == "GET":
        listed = readable_workspaces(principal.user).order_by("name")
        if principal.workspace_id is not None:
            listed = listed.filter(pk=principal.workspace_id)
        return json_response({"workspaces": [workspace_message(w) for w in listed]})
    if request.method != "POST":
        raise MlflowError("BAD_REQUEST", f"Method {request.method} is not allowed.", status=405)
    fields = RequestFields.from_request(request)
    name = fields.string("name", required=True)
    if name == DEFAULT_WORKSPACE_NAME:
        raise MlflowError.invalid(
            f"The '{DEFAULT_WORKSPACE_NAME}' workspace is reserved and cannot be created"
        )
    if fields.string("default_artifact_root"):
        raise MlflowError.invalid(
            "This server stores artifacts itself; 'default_artifact_root' cannot be set."
        )
    group = ResourceGroup.objects.filter(name=NATIVE_WORKSPACES_GROUP).first()
    may_create = principal.user.is_superuser or (
        group is not None and group_role(principal.user, group) == Role.OWNER
    )
    if principal.workspace_id is not None or not may_create:
        raise PermissionDenied(
            "Creating workspaces needs the Owner role on resource group "
            f"'{NATIVE_WORKSPACES_GROUP}'."
        )
    if group is None:
        group = resource_group_create(name=NATIVE_WORKSPACES_GROUP)
    with transaction.atomic():
        workspace = workspace_create(
            resource_group=group, name=name, description=fields.string("description")
        )
        role_assign(user=principal.user, workspace=workspace, role=Role.OWNER)
    return json_response({"workspace": workspace_message(workspace)}, status=201)


@login_not_required
@csrf_exempt
@handle_errors
def workspace_detail(request: HttpRequest, name: str) -> HttpResponse:
    principal = authenticate_request(request)
    if name != DEFAULT_WORKSPACE_NAME and (problem := workspace_name_problem(name)):
        raise MlflowError.invalid(problem)
    workspace = Workspace.objects.select_related("resource_group").filter(name=name).first()
    authorize(principal, workspace, Role.READER if request.method == "GET" else Role.OWNER, name)
    assert workspace is not None  # authorize refuses a missing workspace
    if request.method == "GET":
        return json_response({"workspace": workspace_message(workspace)})
    if request.method == "PATCH":
        fields = RequestFields.from_request(request)
        if not fields.has("description") and not fields.has("default_artifact_root"):
            raise MlflowError.invalid("Workspace update must have at least one key")
        if fields.string("default_artifact_root"):
            raise MlflowError.invalid(
                "This server stores artifacts itself; 'default_artifact_root' cannot be set."
            )
        if fields.has("description"):
            workspace.description = fields.string("description")
            workspace.save(update_fields=["description"])
        return json_response({"workspace": workspace_message(workspace)})
    if request.method == "DELETE":
        _delete_empty_workspace(workspace, mode=request.GET.get("mode", "RESTRICT"))
        return HttpResponse(status=204)
    raise MlflowError("BAD_REQUEST", f"Method {request.method} is not allowed.", status=405)


def _delete_empty_workspace(workspace: Workspace, *, mode: str) -> None:
    """MLflow's RESTRICT deletion: only a workspace without experiments or runs goes at once.

    Workspaces holding data are deleted from the portal, where deletion runs in the background.
    """
    if workspace.name == DEFAULT_WORKSPACE_NAME:
        raise MlflowError.invalid(
            f"The '{DEFAULT_WORKSPACE_NAME}' workspace is reserved and cannot be deleted"
        )
    if mode != "RESTRICT":
        raise MlflowError.invalid(
            f"Deletion mode '{mode}' is not offered here: delete workspaces that hold data from "
            "the portal, which removes their runs and artifacts in the background."
        )
    with transaction.atomic():
        has_runs = Run.objects.filter(workspace=workspace).exists()
        has_experiments = workspace.experiments.filter(is_default=False).exists()
        if has_runs or has_experiments:
            raise Conflict(
                f"Workspace '{workspace.name}' is not empty. Delete it from the portal, which "
                "removes its experiments, runs and artifacts in the background."
            )
        workspace.experiments.all().delete()
        workspace.delete()
