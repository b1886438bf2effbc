"""Pages to manage resource groups and workspaces: list, create, describe, delete, purge.

They live under /manage/ so that access control can guard them in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from experiments.choices import DeletionKind, JobState, Role
from experiments.clock import now_ms
from experiments.errors import NotFound, PermissionDenied, PortalError
from experiments.forms import ConfirmDeletionForm, PurgeForm, ResourceGroupForm, WorkspaceForm
from experiments.models import DeletionJob, ResourceGroup, Workspace
from experiments.selectors.access import (
    group_role,
    readable_workspaces,
    require_group_role,
    require_workspace_role,
    visible_groups,
)
from experiments.selectors.groups import (
    Bill,
    group_bill,
    group_get,
    groups_with_counts,
    purge_bill,
    workspace_get,
    workspaces_bill,
    workspaces_with_counts,
)
from experiments.services.audit import Actor
from experiments.services.deletion import (
    deleted_objects_purge,
    purge_age_ms,
    resource_group_delete,
    workspace_delete,
)
from experiments.services.workspaces import resource_group_create, workspace_create
from experiments.tracking import tracking_uri


def _unfinished_job(kind: DeletionKind, target_id: int) -> DeletionJob | None:
    return DeletionJob.objects.filter(
        kind=kind, target_id=target_id, state__in=JobState.unfinished()
    ).first()


def _to_job(request: HttpRequest, job: DeletionJob) -> HttpResponseRedirect:
    """After a deletion request: the job page, telling the admin if the queue was down."""
    if job.enqueue_error:
        messages.warning(
            request,
            f"The deletion of '{job.target_name}' is recorded (job {job.pk}), but the task "
            f"queue could not be reached: {job.enqueue_error} It starts by itself as soon as "
            "the queue is back; nothing is lost.",
        )
    return redirect("experiments:job-detail", pk=job.pk)


def _not_found(request: HttpRequest, error: NotFound) -> HttpResponse:
    return render(
        request, "experiments/manage/not_found.html", {"message": error.message}, status=404
    )


def managed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refusals of the access checks as pages: unknown or invisible (404), not allowed (403)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as error:
            return _not_found(request, error)
        except PermissionDenied as error:
            return render(
                request,
                "experiments/manage/not_found.html",
                {"message": error.message, "title": "Not allowed"},
                status=403,
            )

    return wrapper


def _group(request: HttpRequest, name: str, needed: Role) -> ResourceGroup:
    group = group_get(name=name)
    require_group_role(request.user, group, needed)
    return group


def _workspace(request: HttpRequest, group: str, name: str, needed: Role) -> Workspace:
    workspace = workspace_get(group_name=group, name=name)
    require_workspace_role(request.user, workspace, needed)
    return workspace


@require_http_methods(["GET", "POST"])
@managed
def group_list(request: HttpRequest) -> HttpResponse:
    form = ResourceGroupForm(request.POST or None)
    if request.method == "POST" and not request.user.is_superuser:
        raise PermissionDenied("Only administrators create resource groups.")
    if request.method == "POST" and form.is_valid():
        try:
            group = resource_group_create(
                name=form.cleaned_data["name"], description=form.cleaned_data["description"]
            )
        except PortalError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, f"Resource group '{group.name}' created.")
            return redirect("experiments:manage-group", group=group.name)
    groups = groups_with_counts().filter(pk__in=visible_groups(request.user).values("pk"))
    jobs = {
        job.target_id: job
        for job in DeletionJob.objects.filter(
            kind=DeletionKind.RESOURCE_GROUP, state__in=JobState.unfinished()
        )
    }
    rows = [(group, jobs.get(group.pk)) for group in groups]
    return render(
        request,
        "experiments/manage/group_list.html",
        {"rows": rows, "form": form if request.user.is_superuser else None},
    )


@require_http_methods(["GET", "POST"])
@managed
def group_detail(request: HttpRequest, group: str) -> HttpResponse:
    resource_group = group_get(name=group)
    if not visible_groups(request.user).filter(pk=resource_group.pk).exists():
        raise NotFound(f"Resource group '{group}' does not exist.")
    owner = group_role(request.user, resource_group) == Role.OWNER
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST":
        require_group_role(request.user, resource_group, Role.OWNER)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = workspace_create(
                resource_group=resource_group,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
        except PortalError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, f"Workspace '{workspace.name}' created.")
            return redirect(
                "experiments:manage-workspace", group=resource_group.name, workspace=workspace.name
            )
    return render(
        request,
        "experiments/manage/group_detail.html",
        {
            "group": resource_group,
            "workspaces": workspaces_with_counts().filter(
                resource_group=resource_group,
                pk__in=readable_workspaces(request.user).values("pk")
                if not owner
                else Workspace.objects.filter(resource_group=resource_group).values("pk"),
            ),
            "contents": group_bill(group=resource_group),
            "job": _unfinished_job(DeletionKind.RESOURCE_GROUP, resource_group.pk),
            "form": form if owner else None,
            "owner": owner,
        },
    )


@require_http_methods(["GET", "POST"])
@managed
def group_delete(request: HttpRequest, group: str) -> HttpResponse:
    """The confirmation page: what would go (a dry run), and the group's name to type."""
    resource_group = _group(request, group, Role.OWNER)
    return _confirm_deletion(
        request,
        kind=DeletionKind.RESOURCE_GROUP,
        target=resource_group,
        bill=group_bill(group=resource_group),
        delete=lambda confirm_name, actor: resource_group_delete(
            group_name=resource_group.name, confirm_name=confirm_name, actor=actor
        ),
        cancel_url=reverse("experiments:manage-group", args=[resource_group.name]),
    )


def _confirm_deletion(
    request: HttpRequest,
    *,
    kind: DeletionKind,
    target: ResourceGroup | Workspace,
    bill: Bill,
    delete: Callable[[str, Actor], DeletionJob],
    cancel_url: str,
) -> HttpResponse:
    """The page that shows what a deletion would remove and asks for the name to be typed;
    the job's page once it is confirmed (or while one is under way)."""
    if job := _unfinished_job(kind, target.pk):
        return redirect("experiments:job-detail", pk=job.pk)
    form = ConfirmDeletionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = delete(form.cleaned_data["confirm_name"], Actor.from_request(request))
        except PortalError as error:
            form.add_error("confirm_name", error.message)
        else:
            return _to_job(request, job)
    return render(
        request,
        "experiments/manage/confirm_delete.html",
        {
            "kind": "resource group" if kind == DeletionKind.RESOURCE_GROUP else "workspace",
            "name": target.name,
            "bill": bill,
            "form": form,
            "cancel_url": cancel_url,
        },
    )


@managed
def workspace_detail(request: HttpRequest, group: str, workspace: str) -> HttpResponse:
    found = workspace_get(group_name=group, name=workspace)
    role = require_workspace_role(request.user, found, Role.READER)
    return render(
        request,
        "experiments/manage/workspace_detail.html",
        {
            "workspace": found,
            "contents": workspaces_bill(workspace_ids=[found.pk]),
            "purgeable": purge_bill(workspace_id=found.pk, before_ms=now_ms()),
            "job": _unfinished_job(DeletionKind.WORKSPACE, found.pk)
            or _unfinished_job(DeletionKind.RESOURCE_GROUP, found.resource_group_id),
            "purge_job": _unfinished_job(DeletionKind.PURGE, found.pk),
            "tracking_uri": tracking_uri(request.build_absolute_uri("/"), found),
            "owner": role == Role.OWNER,
        },
    )


@require_http_methods(["GET", "POST"])
@managed
def workspace_delete_page(request: HttpRequest, group: str, workspace: str) -> HttpResponse:
    found = _workspace(request, group, workspace, Role.OWNER)
    return _confirm_deletion(
        request,
        kind=DeletionKind.WORKSPACE,
        target=found,
        bill=workspaces_bill(workspace_ids=[found.pk]),
        delete=lambda confirm_name, actor: workspace_delete(
            group_name=group, workspace_name=found.name, confirm_name=confirm_name, actor=actor
        ),
        cancel_url=reverse("experiments:manage-workspace", args=[group, found.name]),
    )


@require_http_methods(["GET", "POST"])
@managed
def workspace_purge(request: HttpRequest, group: str, workspace: str) -> HttpResponse:
    """Permanently remove what is in MLflow's deleted stage (what `mlflow gc` does)."""
    found = _workspace(request, group, workspace, Role.OWNER)
    if job := _unfinished_job(DeletionKind.PURGE, found.pk):
        return redirect("experiments:job-detail", pk=job.pk)
    form = PurgeForm(request.POST or request.GET or None)
    older_than_days = form.cleaned_data["older_than_days"] if form.is_valid() else 0
    older_than_ms = purge_age_ms(older_than_days)
    if request.method == "POST" and form.is_valid():
        try:
            job = deleted_objects_purge(
                group_name=group,
                workspace_name=found.name,
                actor=Actor.from_request(request),
                older_than_ms=older_than_ms,
            )
        except PortalError as error:
            form.add_error(None, error.message)
        else:
            return _to_job(request, job)
    return render(
        request,
        "experiments/manage/confirm_purge.html",
        {
            "workspace": found,
            "bill": purge_bill(workspace_id=found.pk, before_ms=now_ms() - older_than_ms),
            "form": form,
        },
    )
