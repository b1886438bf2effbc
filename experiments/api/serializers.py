"""Wire format of the portal's REST API. Serializers validate input shape only: every change
goes through the services, the same ones the pages and the management commands call."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from experiments.models import AuditLog, DeletionJob, Experiment, ResourceGroup, Workspace
from experiments.models.groups import (
    RESOURCE_GROUP_NAME_PATTERN,
    WORKSPACE_NAME_MAX,
    WORKSPACE_NAME_MIN,
    WORKSPACE_NAME_PATTERN,
)
from experiments.selectors.groups import group_bill, workspaces_bill
from experiments.services.deletion import PURGE_AGE_MAX_DAYS


class NameField(serializers.CharField):
    """A name, checked by the services (one place, one wording); it arrives untrimmed, so that
    "name\n" is refused rather than quietly read as "name". Subclasses state the rule in the
    schema."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(trim_whitespace=False, **kwargs)


@extend_schema_field({"type": "string", "pattern": RESOURCE_GROUP_NAME_PATTERN, "maxLength": 90})
class ResourceGroupNameField(NameField):
    pass


@extend_schema_field(
    {
        "type": "string",
        "pattern": WORKSPACE_NAME_PATTERN,
        "minLength": WORKSPACE_NAME_MIN,
        "maxLength": WORKSPACE_NAME_MAX,
    }
)
class WorkspaceNameField(NameField):
    pass


class NumberField(serializers.FloatField):
    """A number; true and false are refused (DRF's FloatField reads them as 1 and 0)."""

    def to_internal_value(self, data: object) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class BillSerializer(serializers.Serializer):
    workspaces = serializers.IntegerField()
    experiments = serializers.IntegerField()
    runs = serializers.IntegerField()
    logged_models = serializers.IntegerField()
    metric_points = serializers.IntegerField()
    files = serializers.IntegerField()
    bytes = serializers.IntegerField()


class ResourceGroupSerializer(serializers.ModelSerializer):
    name = ResourceGroupNameField()
    workspace_count = serializers.IntegerField(read_only=True)
    experiment_count = serializers.IntegerField(read_only=True)
    run_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ResourceGroup
        fields = [
            "name",
            "description",
            "state",
            "created_at",
            "workspace_count",
            "experiment_count",
            "run_count",
        ]
        read_only_fields = ["state", "created_at"]


class WorkspaceSerializer(serializers.ModelSerializer):
    name = WorkspaceNameField()
    resource_group = serializers.SlugRelatedField(
        slug_field="name", queryset=ResourceGroup.objects.all()
    )
    experiment_count = serializers.IntegerField(read_only=True)
    run_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Workspace
        fields = [
            "name",
            "resource_group",
            "description",
            "state",
            "created_at",
            "experiment_count",
            "run_count",
        ]
        read_only_fields = ["state", "created_at"]


class ResourceGroupDetailSerializer(ResourceGroupSerializer):
    contents = serializers.SerializerMethodField(help_text="What the group holds.")

    class Meta(ResourceGroupSerializer.Meta):
        fields = [*ResourceGroupSerializer.Meta.fields, "contents"]

    @extend_schema_field(BillSerializer)
    def get_contents(self, group: ResourceGroup) -> dict[str, int]:
        return group_bill(group=group).as_dict()


class WorkspaceDetailSerializer(WorkspaceSerializer):
    contents = serializers.SerializerMethodField(help_text="What the workspace holds.")

    class Meta(WorkspaceSerializer.Meta):
        fields = [*WorkspaceSerializer.Meta.fields, "contents"]

    @extend_schema_field(BillSerializer)
    def get_contents(self, workspace: Workspace) -> dict[str, int]:
        return workspaces_bill(workspace_ids=[workspace.pk]).as_dict()


class ConfirmSerializer(serializers.Serializer):
    """A deletion is confirmed by typing the name of what goes."""

    confirm_name = serializers.CharField(trim_whitespace=True)


class PurgeSerializer(serializers.Serializer):
    older_than_days = NumberField(min_value=0, max_value=PURGE_AGE_MAX_DAYS, default=0)


class DeletionJobSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    state_display = serializers.CharField(source="get_state_display", read_only=True)
    # None until the job has counted what it will delete.
    objects_total = serializers.IntegerField(read_only=True, allow_null=True)
    objects_deleted = serializers.IntegerField(read_only=True)
    objects_left = serializers.IntegerField(read_only=True, allow_null=True)
    percent = serializers.FloatField(read_only=True)
    waiting_for_queue = serializers.SerializerMethodField()

    class Meta:
        model = DeletionJob
        fields = [
            "id",
            "kind",
            "kind_display",
            "target_name",
            "state",
            "state_display",
            "objects_total",
            "objects_deleted",
            "objects_left",
            "percent",
            "total_workspaces",
            "total_experiments",
            "total_runs",
            "total_logged_models",
            "total_metric_points",
            "total_files",
            "total_bytes",
            "deleted_workspaces",
            "deleted_experiments",
            "deleted_runs",
            "deleted_logged_models",
            "deleted_metric_points",
            "deleted_files",
            "deleted_bytes",
            "error",
            "enqueue_error",
            "waiting_for_queue",
            "attempts",
            "step",
            "purge_before_ms",
            "requested_by",
            "created_at",
            "started_at",
            "updated_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_waiting_for_queue(self, job: DeletionJob) -> bool:
        return bool(job.enqueue_error) and job.state == "pending"


class AuditLogSerializer(serializers.ModelSerializer):
    action_display = serializers.CharField(source="get_action_display", read_only=True)

    class Meta:
        model = AuditLog
        fields = [
            "id",
            "at",
            "actor",
            "action",
            "action_display",
            "target_kind",
            "target_name",
            "job",
            "detail",
        ]
        read_only_fields = fields


class ExperimentSerializer(serializers.ModelSerializer):
    experiment_id = serializers.CharField(source="wire_id", read_only=True)

    class Meta:
        model = Experiment
        fields = ["experiment_id", "name", "creation_time", "last_update_time", "last_run_time"]
        read_only_fields = fields


class TrackingTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Bearer <token>`.")
    expires_at = serializers.DateTimeField()
    tracking_uri = serializers.CharField()
