"""The portal's REST API (/portal-api/v1/): resource groups, workspaces, deletion jobs and the
audit log. Views translate HTTP to service calls; refusals of the services (errors.py) become
400/404/409 answers with a `detail` message."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import exception_handler as drf_exception_handler

from experiments import errors
from experiments.api import serializers
from experiments.models import AuditLog, DeletionJob, ResourceGroup, Workspace
from experiments.selectors.groups import (
    group_bill,
    groups_with_counts,
    workspaces_bill,
    workspaces_with_counts,
)
from experiments.services.audit import Actor
from experiments.services.deletion import (
    deleted_objects_purge,
    deletion_job_retry,
    resource_group_delete,
    workspace_delete,
)
from experiments.services.workspaces import resource_group_create, workspace_create

STATUS_BY_ERROR = {
    errors.InvalidInput: status.HTTP_400_BAD_REQUEST,
    errors.NotFound: status.HTTP_404_NOT_FOUND,
    errors.AlreadyExists: status.HTTP_409_CONFLICT,
    errors.Conflict: status.HTTP_409_CONFLICT,
    errors.Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}
DAY_MS = 86_400_000


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the services' refusals."""
    if isinstance(exc, errors.PortalError):
        for error_class, code in STATUS_BY_ERROR.items():
            if isinstance(exc, error_class):
                return Response({"detail": exc.message}, status=code)
        return Response({"detail": exc.message}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


def _job_response(job: DeletionJob) -> Response:
    return Response(serializers.DeletionJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ResourceGroupViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = serializers.ResourceGroupSerializer
    lookup_field = "name"
    lookup_value_regex = r"[^/]+"

    def get_queryset(self) -> QuerySet[ResourceGroup]:
        return groups_with_counts()

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        group = self.get_object()
        data = self.get_serializer(group).data
        data["contents"] = group_bill(group=group).as_dict()
        return Response(data)

    def perform_create(self, serializer: BaseSerializer) -> None:
        group = resource_group_create(
            name=serializer.validated_data["name"],
            description=serializer.validated_data.get("description", ""),
        )
        serializer.instance = groups_with_counts().get(pk=group.pk)

    @action(detail=True, methods=["post"], url_path="delete")
    def delete_group(self, request: Request, name: str) -> Response:
        """Start deleting the group; the body confirms it: {"confirm_name": "<group name>"}."""
        confirm = serializers.ConfirmSerializer(data=request.data)
        confirm.is_valid(raise_exception=True)
        job = resource_group_delete(
            group_name=name,
            confirm_name=confirm.validated_data["confirm_name"],
            actor=Actor.from_request(request),
        )
        return _job_response(job)


class WorkspaceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = serializers.WorkspaceSerializer
    lookup_field = "name"

    def get_queryset(self) -> QuerySet[Workspace]:
        workspaces = workspaces_with_counts()
        if group := self.request.query_params.get("resource_group"):
            workspaces = workspaces.filter(resource_group__name=group)
        return workspaces

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        workspace = self.get_object()
        data = self.get_serializer(workspace).data
        data["contents"] = workspaces_bill(workspace_ids=[workspace.pk]).as_dict()
        return Response(data)

    def perform_create(self, serializer: BaseSerializer) -> None:
        workspace = workspace_create(
            resource_group=serializer.validated_data["resource_group"],
            name=serializer.validated_data["name"],
            description=serializer.validated_data.get("description", ""),
        )
        serializer.instance = workspaces_with_counts().get(pk=workspace.pk)

    @action(detail=True, methods=["post"], url_path="delete")
    def delete_workspace(self, request: Request, name: str) -> Response:
        confirm = serializers.ConfirmSerializer(data=request.data)
        confirm.is_valid(raise_exception=True)
        workspace = self.get_object()
        job = workspace_delete(
            group_name=workspace.resource_group.name,
            workspace_name=workspace.name,
            confirm_name=confirm.validated_data["confirm_name"],
            actor=Actor.from_request(request),
        )
        return _job_response(job)

    @action(detail=True, methods=["post"])
    def purge(self, request: Request, name: str) -> Response:
        """Permanently remove deleted runs and experiments (MLflow's gc)."""
        options = serializers.PurgeSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        workspace = self.get_object()
        job = deleted_objects_purge(
            group_name=workspace.resource_group.name,
            workspace_name=workspace.name,
            actor=Actor.from_request(request),
            older_than_ms=int(options.validated_data["older_than_days"] * DAY_MS),
        )
        return _job_response(job)


class DeletionJobViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.DeletionJobSerializer
    queryset = DeletionJob.objects.order_by("-created_at", "-id")

    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        job = self.get_object()
        return _job_response(deletion_job_retry(job_id=job.pk, actor=Actor.from_request(request)))


class AuditLogViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.AuditLogSerializer
    queryset = AuditLog.objects.order_by("-at", "-id")
