"""Portal URLs: the MLflow API under each workspace tracking URI and at the root, the pages,
the admin and the portal's own REST API."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from experiments.mlflow import urls as mlflow_urls
from experiments.mlflow import views_server

TRACKING_PREFIX = mlflow_urls.TRACKING_PREFIX

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("portal-api/v1/", include("experiments.api.urls", namespace="portal-api")),
    path(TRACKING_PREFIX, views_server.tracking_home, name="tracking-home"),
    path(
        TRACKING_PREFIX,
        include(
            (mlflow_urls.workspace_patterns + mlflow_urls.fallback_patterns, "mlflow"),
            namespace="mlflow",
        ),
    ),
    # Anything else under the tracking URIs is an unknown MLflow call: JSON, never HTML.
    re_path(r"^mlflow/[\s\S]*$", views_server.not_found),
    path(
        "",
        include(
            (
                mlflow_urls.root_only_patterns
                + mlflow_urls.workspace_patterns
                + mlflow_urls.fallback_patterns,
                "mlflow",
            ),
            namespace="mlflow-root",
        ),
    ),
    path("", include("experiments.urls")),
]
