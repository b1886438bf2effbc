from __future__ import annotations

from django.contrib import admin

from experiments.models import Experiment, ResourceGroup, Run, Workspace


@admin.register(ResourceGroup)
class ResourceGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "state", "created_at"]
    search_fields = ["name"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "resource_group", "state", "created_at"]
    list_select_related = ["resource_group"]
    search_fields = ["name"]


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
