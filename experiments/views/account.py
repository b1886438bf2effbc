"""A user's own API keys, the "Log to this workspace" lines, and who may do what (Owners)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from experiments.choices import Role
from experiments.errors import InvalidInput, PortalError
from experiments.models import ApiKey, ResourceGroup, RoleAssignment, Workspace
from experiments.selectors.access import require_group_role, require_workspace_role
from experiments.selectors.groups import group_get, workspace_get
from experiments.selectors.portal import workspace_get as visible_workspace_get
from experiments.services.access import (
    api_key_create,
    api_key_revoke,
    role_assign,
    role_remove,
    tracking_token_create,
)
from experiments.tracking import tracking_uri
from experiments.validation import is_digits
from experiments.views.common import page
from experiments.views.groups import managed

MAX_KEY_DAYS = 3650


@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    """List, create and revoke the signed-in user's personal API keys."""
    secret = None
    if request.method == "POST":
        name = request.POST.get("name", "")
        days = request.POST.get("expires_in_days", "").strip()
        try:
            expires_at = None
            if days:
                if not is_digits(days) or not 0 < int(days) <= MAX_KEY_DAYS:
                    raise InvalidInput(f"Expiry must be 1 to {MAX_KEY_DAYS} days, or empty.")
                expires_at = timezone.now() + timedelta(days=int(days))
            key, secret = api_key_create(user=request.user, name=name, expires_at=expires_at)
        except PortalError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, f"API key '{key.name}' created. Copy it now: it is not shown again."
            )
    keys = ApiKey.objects.filter(user=request.user).order_by("-created_at")
    return render(request, "experiments/account/api_keys.html", {"keys": keys, "secret": secret})


@require_POST
def api_key_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=pk, user=request.user)
    api_key_revoke(api_key=key)
    messages.success(
        request, f"API key '{key.name}' revoked, with the tracking tokens minted from it."
    )
    return redirect("experiments:api-keys")


@require_POST
@page
def log_to_workspace(request: HttpRequest, group: str, workspace: str) -> HttpResponse:
    """Copy-ready lines that point the mlflow client at the workspace, with a fresh token."""
    found = visible_workspace_get(user=request.user, group=group, name=workspace)
    token, secret = tracking_token_create(user=request.user, workspace=found)
    return render(
        request,
        "experiments/account/log_to_workspace.html",
        {
            "workspace": found,
            "group": found.resource_group,
            "tracking_uri": tracking_uri(request.build_absolute_uri("/"), found),
            "token": secret,
            "expires_at": token.expires_at,
            "portal_url": request.build_absolute_uri("/").rstrip("/"),
        },
    )


def _assignments(**scope: object) -> list[RoleAssignment]:
    return list(
        RoleAssignment.objects.filter(**scope).select_related("user").order_by("user__username")
    )


def _apply_access_form(request: HttpRequest, **scope: ResourceGroup | Workspace) -> None:
    username = request.POST.get("username", "").strip()
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise InvalidInput(f"There is no user '{username}'.")
    if request.POST.get("action") == "remove":
        role_remove(user=user, **scope)  # type: ignore[arg-type]
        messages.success(request, f"{username} has no role here any more.")
        return
    role_value = request.POST.get("role", "")
    if role_value not in Role.values:
        raise InvalidInput(f"Choose a role: {', '.join(Role.labels)}.")
    role_assign(user=user, role=Role(role_value), **scope)  # type: ignore[arg-type]
    messages.success(request, f"{username} is now {Role(role_value).label}.")


@require_http_methods(["GET", "POST"])
@managed
def group_access(request: HttpRequest, group: str) -> HttpResponse:
    """Owners of a resource group say who may do what in all its workspaces."""
    resource_group = group_get(name=group)
    require_group_role(request.user, resource_group, Role.OWNER)
    if request.method == "POST":
        try:
            _apply_access_form(request, resource_group=resource_group)
        except PortalError as error:
            messages.error(request, error.message)
        return redirect("experiments:group-access", group=resource_group.name)
    return render(
        request,
        "experiments/manage/access.html",
        {
            "scope_label": f"resource group {resource_group.name}",
            "assignments": _assignments(resource_group=resource_group),
            "roles": Role.choices,
        },
    )


@require_http_methods(["GET", "POST"])
@managed
def workspace_access(request: HttpRequest, group: str, workspace: str) -> HttpResponse:
    """Owners of a workspace say who may do what in it."""
    found = workspace_get(group_name=group, name=workspace)
    require_workspace_role(request.user, found, Role.OWNER)
    if request.method == "POST":
        try:
            _apply_access_form(request, workspace=found)
        except PortalError as error:
            messages.error(request, error.message)
        return redirect("experiments:workspace-access", group=group, workspace=found.name)
    return render(
        request,
        "experiments/manage/access.html",
        {
            "scope_label": f"workspace {group}/{found.name}",
            "assignments": _assignments(workspace=found),
            "inherited": _assignments(resource_group=found.resource_group),
            "roles": Role.choices,
        },
    )
