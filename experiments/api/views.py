"""The portal's REST API (/portal-api/v1/): resource groups, workspaces, deletion jobs and the
audit log. Views translate HTTP to service calls; refusals of the services (errors.py) become
400/404/409 answers with a `detail` message."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db import InterfaceError, OperationalError
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import exception_handler as drf_exception_handler

from experiments import errors
from experiments.api import serializers
from experiments.choices import LifecycleStage, Role
from experiments.models import ApiKey, AuditLog, DeletionJob, ResourceGroup, Workspace
from experiments.selectors.access import (
    Principal,
    owned_jobs,
    readable_workspaces,
    require_group_role,
    require_workspace_role,
    visible_groups,
)
from experiments.selectors.experiments import experiments_in
from experiments.selectors.groups import groups_with_counts, workspaces_with_counts
from experiments.services.access import tracking_token_create
from experiments.services.audit import Actor
from experiments.services.deletion import (
    deleted_objects_purge,
    deletion_job_retry,
    purge_age_ms,
    resource_group_delete,
    workspace_delete,
)
from experiments.services.workspaces import resource_group_create, workspace_create
from experiments.tracking import tracking_uri

STATUS_BY_ERROR = {
    errors.InvalidInput: status.HTTP_400_BAD_REQUEST,
    errors.PermissionDenied: status.HTTP_403_FORBIDDEN,
    errors.Unauthenticated: status.HTTP_401_UNAUTHORIZED,
    errors.NotFound: status.HTTP_404_NOT_FOUND,
    errors.AlreadyExists: status.HTTP_409_CONFLICT,
    errors.Conflict: status.HTTP_409_CONFLICT,
    errors.Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the services' refusals and the database's failures."""
    if isinstance(exc, OperationalError | InterfaceError):
        message, code = errors.database_failure(exc)
        return Response({"detail": message}, status=code)
    if isinstance(exc, errors.PortalError):
        for error_class, code in STATUS_BY_ERROR.items():
            if isinstance(exc, error_class):
                return Response({"detail": exc.message}, status=code)
        return Response({"detail": exc.message}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


@csrf_exempt
@login_not_required
def not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)


class ScopedViewSet(viewsets.GenericViewSet):
    """The base of every portal API view: callers authenticate themselves (API keys or the
    session) instead of being sent to the sign-in page, and every queryset is scoped to what
    the caller may see (selectors/access.py)."""

    @classmethod
    def as_view(cls, *args: Any, **kwargs: Any) -> Any:
        return login_not_required(super().as_view(*args, **kwargs))


def _job_response(job: DeletionJob) -> Response:
    return Response(serializers.DeletionJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


def _starts_job(request: type[serializers.Serializer] | None) -> Any:
    """The schema of an action that answers 202 with the deletion job it started."""
    return extend_schema(request=request, responses={202: serializers.DeletionJobSerializer})


class ResourceGroupViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    ScopedViewSet,
):
    lookup_field = "name"
    lookup_value_regex = r"[^/]+"

    def get_queryset(self) -> QuerySet[ResourceGroup]:
        return groups_with_counts().filter(pk__in=visible_groups(self.request.user).values("pk"))

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "retrieve":
            return serializers.ResourceGroupDetailSerializer
        return serializers.ResourceGroupSerializer

    def perform_create(self, serializer: BaseSerializer) -> None:
        if not self.request.user.is_superuser:
            raise errors.PermissionDenied("Only administrators create resource groups.")
        group = resource_group_create(
            name=serializer.validated_data["name"],
            description=serializer.validated_data.get("description", ""),
        )
        serializer.instance = groups_with_counts().get(pk=group.pk)

    @_starts_job(serializers.ConfirmSerializer)
    @action(detail=True, methods=["post"], url_path="delete")
    def delete_group(self, request: Request, name: str) -> Response:
        """Start deleting the group; the body confirms it: {"confirm_name": "<group name>"}."""
        confirm = serializers.ConfirmSerializer(data=request.data)
        confirm.is_valid(raise_exception=True)
        require_group_role(request.user, self.get_object(), Role.OWNER)
        job = resource_group_delete(
            group_name=name,
            confirm_name=confirm.validated_data["confirm_name"],
            actor=Actor.from_request(request),
        )
        return _job_response(job)


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("resource_group", str, description="Only this group's.")]
    )
)
class WorkspaceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    ScopedViewSet,
):
    lookup_field = "name"

    def get_serializer(self, *args: Any, **kwargs: Any) -> BaseSerializer:
        serializer = super().get_serializer(*args, **kwargs)
        if "resource_group" in getattr(serializer, "fields", {}):
            # Only groups the caller can see may be named (others read as nonexistent).
            serializer.fields["resource_group"].queryset = visible_groups(self.request.user)
        return serializer

    def get_queryset(self) -> QuerySet[Workspace]:
        workspaces = workspaces_with_counts().filter(
            pk__in=readable_workspaces(self.request.user).values("pk")
        )
        if group := self.request.query_params.get("resource_group"):
            workspaces = workspaces.filter(resource_group__name=group)
        return workspaces

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "retrieve":
            return serializers.WorkspaceDetailSerializer
        return serializers.WorkspaceSerializer

    def perform_create(self, serializer: BaseSerializer) -> None:
        require_group_role(
            self.request.user, serializer.validated_data["resource_group"], Role.OWNER
        )
        workspace = workspace_create(
            resource_group=serializer.validated_data["resource_group"],
            name=serializer.validated_data["name"],
            description=serializer.validated_data.get("description", ""),
        )
        serializer.instance = workspaces_with_counts().get(pk=workspace.pk)

    @_starts_job(serializers.ConfirmSerializer)
    @action(detail=True, methods=["post"], url_path="delete")
    def delete_workspace(self, request: Request, name: str) -> Response:
        confirm = serializers.ConfirmSerializer(data=request.data)
        confirm.is_valid(raise_exception=True)
        workspace = self.get_object()
        require_workspace_role(request.user, workspace, Role.OWNER)
        job = workspace_delete(
            group_name=workspace.resource_group.name,
            workspace_name=workspace.name,
            confirm_name=confirm.validated_data["confirm_name"],
            actor=Actor.from_request(request),
        )
        return _job_response(job)

    @_starts_job(serializers.PurgeSerializer)
    @action(detail=True, methods=["post"])
    def purge(self, request: Request, name: str) -> Response:
        """Permanently remove deleted runs and experiments (MLflow's gc)."""
        options = serializers.PurgeSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        workspace = self.get_object()
        require_workspace_role(request.user, workspace, Role.OWNER)
        job = deleted_objects_purge(
            group_name=workspace.resource_group.name,
            workspace_name=workspace.name,
            actor=Actor.from_request(request),
            older_than_ms=purge_age_ms(options.validated_data["older_than_days"]),
        )
        return _job_response(job)

    @extend_schema(request=None, responses={201: serializers.TrackingTokenSerializer})
    @action(detail=True, methods=["post"], url_path="tracking-token")
    def tracking_token(self, request: Request, name: str) -> Response:
        """A short-lived token for the mlflow client to reach this workspace (the SDK renews
        it before it expires); minted from the caller's API key, revoked with it."""
        workspace = self.get_object()
        principal = request.auth if isinstance(request.auth, Principal) else None
        api_key = ApiKey.objects.filter(pk=principal.api_key_id).first() if principal else None
        token, secret = tracking_token_create(
            user=request.user, workspace=workspace, api_key=api_key
        )
        return Response(
            {
                "token": secret,
                "expires_at": token.expires_at,
                "tracking_uri": tracking_uri(request.build_absolute_uri("/"), workspace),
            },
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        parameters=[OpenApiParameter("name", str, description="Part of the experiment name.")],
        responses=serializers.ExperimentSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def experiments(self, request: Request, name: str) -> Response:
        """The workspace's active experiments, optionally those whose name contains `name`."""
        workspace = self.get_object()
        found = experiments_in(workspace=workspace).filter(lifecycle_stage=LifecycleStage.ACTIVE)
        if text := request.query_params.get("name", "").strip():
            found = found.filter(name__icontains=text)
        page = self.paginate_queryset(found.order_by("name"))
        data = serializers.ExperimentSerializer(page, many=True).data
        return self.get_paginated_response(data)


class DeletionJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = serializers.DeletionJobSerializer

    def get_queryset(self) -> QuerySet[DeletionJob]:
        return owned_jobs(self.request.user).order_by("-created_at", "-id")

    @_starts_job(None)
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        job = self.get_object()
        return _job_response(deletion_job_retry(job_id=job.pk, actor=Actor.from_request(request)))


class AuditLogViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = serializers.AuditLogSerializer

    def get_queryset(self) -> QuerySet[AuditLog]:
        entries = AuditLog.objects.order_by("-at", "-id")
        if self.request.user.is_superuser:
            return entries
        return entries.filter(job__in=owned_jobs(self.request.user))
