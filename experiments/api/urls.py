"""Routes of the portal's REST API, mounted at /portal-api/v1/ (outside /api/, which belongs
to MLflow's protocol)."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter

from experiments.api import views

router = DefaultRouter(trailing_slash=True)
router.register("resource-groups", views.ResourceGroupViewSet, basename="resource-group")
router.register("workspaces", views.WorkspaceViewSet, basename="workspace")
router.register("deletion-jobs", views.DeletionJobViewSet, basename="deletion-job")
router.register("audit-log", views.AuditLogViewSet, basename="audit-log")

app_name = "portal-api"
urlpatterns = router.urls
