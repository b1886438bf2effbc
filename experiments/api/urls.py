"""Routes of the portal's REST API, mounted at /portal-api/v1/ (outside /api/, which belongs
to MLflow's protocol)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.routers import DefaultRouter

from experiments.api import views

router = DefaultRouter(trailing_slash=True)
router.register("resource-groups", views.ResourceGroupViewSet, basename="resource-group")
router.register("workspaces", views.WorkspaceViewSet, basename="workspace")
router.register("deletion-jobs", views.DeletionJobViewSet, basename="deletion-job")
router.register("audit-log", views.AuditLogViewSet, basename="audit-log")

app_name = "portal-api"
urlpatterns = [
    *router.urls,
    # The schema is public (it describes the API, not data); the docs page needs a session.
    path(
        "schema/",
        login_not_required(SpectacularAPIView.as_view(permission_classes=[AllowAny])),
        name="schema",
    ),
    path("docs/", SpectacularSwaggerView.as_view(url_name="portal-api:schema"), name="docs"),
    # Any other path (an id that is not one, a misspelt route) answers in JSON, not the HTML page;
    # a path without its final slash is still redirected to it first (APPEND_SLASH).
    re_path(r"^[\s\S]*/$", views.not_found, name="not-found"),
]
