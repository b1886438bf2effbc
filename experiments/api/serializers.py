"""Wire format of the portal's REST API. Serializers validate input shape only: every change
goes through the services, the same ones the pages and the management commands call."""

from __future__ import annotations

from rest_framework import serializers

from experiments.models import AuditLog, DeletionJob, Experiment, ResourceGroup, Workspace


class ResourceGroupSerializer(serializers.ModelSerializer):
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
        # Uniqueness and the name rule are the service's to check (one place, one wording).
        extra_kwargs = {"name": {"validators": []}}


class BillSerializer(serializers.Serializer):
    workspaces = serializers.IntegerField()
    experiments = serializers.IntegerField()
    runs = serializers.IntegerField()
    logged_models = serializers.IntegerField()
    metric_points = serializers.IntegerField()
    files = serializers.IntegerField()
    bytes = serializers.IntegerField()


class WorkspaceSerializer(serializers.ModelSerializer):
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
        extra_kwargs = {"name": {"validators": []}}


class ConfirmSerializer(serializers.Serializer):
    """A deletion is confirmed by typing the name of what goes."""

    confirm_name = serializers.CharField(trim_whitespace=True)


class PurgeSerializer(serializers.Serializer):
    older_than_days = serializers.FloatField(min_value=0, default=0)


class DeletionJobSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    state_display = serializers.CharField(source="get_state_display", read_only=True)
    objects_total = serializers.IntegerField(read_only=True)
    objects_deleted = serializers.IntegerField(read_only=True)
    objects_left = serializers.IntegerField(read_only=True)
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
