"""Django admin. Groups and workspaces are created through the services (a workspace gets its
Default experiment) and deleted only through the portal's deletion job: the admin's own delete
would cascade millions of rows in one request."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from experiments.choices import ContainerState
from experiments.errors import PortalError
from experiments.models import AuditLog, DeletionJob, Experiment, ResourceGroup, Run, Workspace
from experiments.models.groups import resource_group_name_problem, workspace_name_problem
from experiments.selectors.groups import groups_with_counts, workspaces_with_counts
from experiments.services.audit import Actor
from experiments.services.deletion import deletion_job_retry
from experiments.services.workspaces import resource_group_create, workspace_create


class ServiceCheckedForm(ModelForm):
    """Runs the service's own checks on an add form, so refusals show as form errors."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.instance.pk is None:
            problem = self.problem(cleaned)
            if problem:
                raise ValidationError(problem)
        return cleaned

    def problem(self, cleaned: dict[str, Any]) -> str | None:
        return None


class ResourceGroupForm(ServiceCheckedForm):
    def problem(self, cleaned: dict[str, Any]) -> str | None:
        return resource_group_name_problem(cleaned.get("name") or "")


class WorkspaceForm(ServiceCheckedForm):
    def problem(self, cleaned: dict[str, Any]) -> str | None:
        group = cleaned.get("resource_group")
        if group is not None and group.state != ContainerState.ACTIVE:
            return f"Resource group '{group.name}' is being deleted."
        return workspace_name_problem(cleaned.get("name") or "")


class ServiceCreatedAdmin(admin.ModelAdmin):
    """Adds through the service; deletion is the portal's job, linked from the list."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        obj.pk = self.create(obj).pk

    def create(self, obj: Any) -> Any:
        raise NotImplementedError


@admin.register(ResourceGroup)
class ResourceGroupAdmin(ServiceCreatedAdmin):
    form = ResourceGroupForm
    list_display = [
        "name",
        "state",
        "workspace_count",
        "experiment_count",
        "run_count",
        "created_at",
        "delete_link",
    ]
    search_fields = ["name"]
    readonly_fields = ["state", "created_at"]
    fields = ["name", "description", "state", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ResourceGroup]:
        return groups_with_counts()

    @admin.display(ordering="workspace_count")
    def workspace_count(self, group: ResourceGroup) -> int:
        return group.workspace_count  # type: ignore[attr-defined]

    @admin.display(ordering="experiment_count")
    def experiment_count(self, group: ResourceGroup) -> int:
        return group.experiment_count  # type: ignore[attr-defined]

    @admin.display(ordering="run_count")
    def run_count(self, group: ResourceGroup) -> int:
        return group.run_count  # type: ignore[attr-defined]

    @admin.display(description="Delete")
    def delete_link(self, group: ResourceGroup) -> str:
        url = reverse("experiments:group-delete", args=[group.name])
        return format_html('<a href="{}">Delete…</a>', url)

    def create(self, obj: ResourceGroup) -> ResourceGroup:
        return resource_group_create(name=obj.name, description=obj.description)


@admin.register(Workspace)
class WorkspaceAdmin(ServiceCreatedAdmin):
    form = WorkspaceForm
    list_display = [
        "name",
        "resource_group",
        "state",
        "experiment_count",
        "run_count",
        "created_at",
        "delete_link",
    ]
    list_select_related = ["resource_group"]
    list_filter = ["state"]
    search_fields = ["name", "resource_group__name"]
    readonly_fields = ["state", "created_at"]
    fields = ["name", "resource_group", "description", "state", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Workspace]:
        return workspaces_with_counts()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Moving a workspace to another group would move its tracking URI.
        return [*self.readonly_fields, "resource_group"] if obj else self.readonly_fields

    @admin.display(ordering="experiment_count")
    def experiment_count(self, workspace: Workspace) -> int:
        return workspace.experiment_count  # type: ignore[attr-defined]

    @admin.display(ordering="run_count")
    def run_count(self, workspace: Workspace) -> int:
        return workspace.run_count  # type: ignore[attr-defined]

    @admin.display(description="Delete")
    def delete_link(self, workspace: Workspace) -> str:
        url = reverse(
            "experiments:workspace-delete", args=[workspace.resource_group.name, workspace.name]
        )
        return format_html('<a href="{}">Delete…</a>', url)

    def create(self, obj: Workspace) -> Workspace:
        return workspace_create(
            resource_group=obj.resource_group, name=obj.name, description=obj.description
        )


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "lifecycle_stage", "creation_time"]
    list_select_related = ["workspace"]
    search_fields = ["name"]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["uuid", "name", "experiment", "status", "lifecycle_stage"]
    list_select_related = ["experiment"]
    search_fields = ["uuid", "name"]
    raw_id_fields = ["experiment", "workspace"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DeletionJob)
class DeletionJobAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "kind",
        "target_name",
        "state",
        "percent",
        "requested_by",
        "created_at",
        "finished_at",
        "page",
    ]
    list_filter = ["state", "kind"]
    search_fields = ["target_name", "requested_by"]
    actions = ["retry"]

    @admin.display(description="Page")
    def page(self, job: DeletionJob) -> str:
        return format_html(
            '<a href="{}">progress</a>', reverse("experiments:job-detail", args=[job.pk])
        )

    @admin.action(description="Retry the selected failed jobs")
    def retry(self, request: HttpRequest, queryset: QuerySet[DeletionJob]) -> None:
        for job in queryset:
            try:
                deletion_job_retry(job_id=job.pk, actor=Actor.from_request(request))
            except PortalError as error:
                messages.warning(request, f"Job {job.pk}: {error.message}")
            else:
                messages.success(request, f"Job {job.pk} is queued again.")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The retry action needs it; every field stays read-only.
        return request.user.is_superuser

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in DeletionJob._meta.fields]


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "target_kind", "target_name", "job", "detail"]
    list_filter = ["action", "target_kind"]
    search_fields = ["actor", "target_name"]
    list_select_related = ["job"]
