"""MLflow REST routes. The same list is served under every workspace tracking URI
(/mlflow/v1.0/resourceGroups/<group>/workspaces/<workspace>/) and at the site root, where the
workspace comes from MLflow's X-MLFLOW-WORKSPACE header.
"""

from __future__ import annotations

from django.urls import path, re_path

from experiments.mlflow import (
    views_artifacts as artifacts,
)
from experiments.mlflow import (
    views_experiments as experiments,
)
from experiments.mlflow import (
    views_logged_models as logged_models,
)
from experiments.mlflow import (
    views_runs as runs,
)
from experiments.mlflow import (
    views_search as search,
)
from experiments.mlflow import (
    views_server as server,
)

app_name = "mlflow"

# Where each workspace's tracking URI points (see portal/urls.py).
TRACKING_PREFIX = "mlflow/v1.0/resourceGroups/<str:group>/workspaces/<str:workspace>/"
M = "api/2.0/mlflow/"
ARTIFACTS = "api/2.0/mlflow-artifacts/artifacts"

workspace_patterns = [
    path(f"{M}experiments/create", experiments.create, name="experiments-create"),
    path(f"{M}experiments/get", experiments.get, name="experiments-get"),
    path(f"{M}experiments/get-by-name", experiments.get_by_name, name="experiments-get-by-name"),
    path(f"{M}experiments/search", search.search_experiments, name="experiments-search"),
    path(f"{M}experiments/delete", experiments.delete, name="experiments-delete"),
    path(f"{M}experiments/restore", experiments.restore, name="experiments-restore"),
    path(f"{M}experiments/update", experiments.update, name="experiments-update"),
    path(f"{M}experiments/set-experiment-tag", experiments.set_tag, name="experiments-set-tag"),
    path(
        f"{M}experiments/delete-experiment-tag",
        experiments.delete_tag,
        name="experiments-delete-tag",
    ),
    path(f"{M}runs/create", runs.create, name="runs-create"),
    path(f"{M}runs/update", runs.update, name="runs-update"),
    path(f"{M}runs/delete", runs.delete, name="runs-delete"),
    path(f"{M}runs/restore", runs.restore, name="runs-restore"),
    path(f"{M}runs/get", runs.get, name="runs-get"),
    path(f"{M}runs/search", search.search_runs, name="runs-search"),
    path(f"{M}runs/log-metric", runs.log_metric, name="runs-log-metric"),
    path(f"{M}runs/log-parameter", runs.log_param, name="runs-log-parameter"),
    path(f"{M}runs/log-batch", runs.log_batch, name="runs-log-batch"),
    path(f"{M}runs/set-tag", runs.set_tag, name="runs-set-tag"),
    path(f"{M}runs/delete-tag", runs.delete_tag, name="runs-delete-tag"),
    path(f"{M}runs/log-inputs", runs.log_inputs, name="runs-log-inputs"),
    path(f"{M}runs/outputs", runs.log_outputs, name="runs-log-outputs"),
    path(f"{M}metrics/get-history", runs.get_metric_history, name="metrics-get-history"),
    path(f"{M}artifacts/list", artifacts.list_run_artifacts, name="artifacts-list"),
    path(f"{M}logged-models", logged_models.create, name="logged-models-create"),
    path(f"{M}logged-models/search", logged_models.search, name="logged-models-search"),
    path(f"{M}logged-models/<str:model_id>", logged_models.detail, name="logged-models-detail"),
    path(
        f"{M}logged-models/<str:model_id>/params",
        logged_models.log_params,
        name="logged-models-params",
    ),
    path(
        f"{M}logged-models/<str:model_id>/tags", logged_models.set_tags, name="logged-models-tags"
    ),
    path(
        f"{M}logged-models/<str:model_id>/tags/<path:tag_key>",
        logged_models.delete_tag,
        name="logged-models-delete-tag",
    ),
    path(ARTIFACTS, artifacts.list_artifacts, name="artifacts-root"),
    re_path(
        # [\s\S], not ".": a path holding a newline must reach the view (and be refused).
        r"^api/2\.0/mlflow-artifacts/artifacts/(?P<artifact_path>[\s\S]*)$",
        artifacts.artifact,
        name="artifacts-file",
    ),
    re_path(
        r"^api/2\.0/mlflow-artifacts/mpu/(?P<step>create|complete|abort)/(?P<artifact_path>[\s\S]*)$",
        artifacts.multipart_upload,
        name="artifacts-multipart",
    ),
    re_path(
        r"^api/2\.0/mlflow-artifacts/presigned/(?P<artifact_path>[\s\S]*)$",
        artifacts.presigned_download,
        name="artifacts-presigned",
    ),
    path("api/3.0/mlflow/server-info", server.server_info, name="server-info"),
    path("version", server.version, name="version"),
]

# The calls that can be answered in one round trip (endpoint's at_once): log-metric and
# log-batch, which a training loop sends thousands of times. LoggingLane takes them early.
at_once_patterns = [
    pattern for pattern in workspace_patterns if getattr(pattern.callback, "at_once", None)
]

# Unknown API paths answer ENDPOINT_NOT_FOUND (the client falls back on it), never HTML.
fallback_patterns = [
    re_path(r"^(?:ajax-)?api/[\s\S]*$", server.not_found, name="endpoint-not-found"),
]

root_only_patterns = [
    path("api/3.0/mlflow/workspaces", server.workspaces, name="workspaces"),
    path("api/2.0/mlflow/workspaces", server.workspaces),
    path("api/3.0/mlflow/workspaces/<str:name>", server.workspace_detail, name="workspace"),
    path("api/2.0/mlflow/workspaces/<str:name>", server.workspace_detail),
]
