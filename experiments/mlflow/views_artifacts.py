"""The mlflow-artifacts proxy (/api/2.0/mlflow-artifacts/artifacts/...) and artifacts/list.

Artifact URIs handed to clients are `mlflow-artifacts:/<experiment>/<run>/artifacts` and
`mlflow-artifacts:/<experiment>/models/<model>/artifacts`; a request path must name a run or
model of the addressed workspace, or nothing is read or written.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from experiments.downloads import artifact_file_response
from experiments.errors import NotFound
from experiments.mlflow.endpoint import endpoint
from experiments.mlflow.errors import MlflowError
from experiments.mlflow.parsing import RequestFields
from experiments.models import LoggedModel, Workspace
from experiments.selectors.runs import run_get
from experiments.services.artifacts import (
    ArtifactLocation,
    artifact_delete,
    artifact_listing,
    artifact_write,
    clean_relative_path,
)
from experiments.uploads import UploadBody


def resolve_location(workspace: Workspace, raw_path: str) -> ArtifactLocation:
    """The storage location of an artifact path, checked against the workspace's runs/models."""
    path = clean_relative_path(raw_path)
    parts = path.split("/") if path else []
    if len(parts) >= 3 and parts[2] == "artifacts":
        experiment_id, run_id = parts[0], parts[1]
        try:
            run = run_get(workspace=workspace, run_id=run_id)
        except NotFound:
            raise NotFound(f"No artifact location '{path}' on this server.") from None
        if run.experiment.wire_id != experiment_id:
            raise NotFound(f"No artifact location '{path}' on this server.")
        return ArtifactLocation(run.artifact_prefix, "/".join(parts[3:]))
    if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        model = (
            LoggedModel.objects.select_related("experiment")
            .filter(workspace=workspace, model_id=parts[2])
            .first()
        )
        if model is None or model.experiment.wire_id != parts[0]:
            raise NotFound(f"No artifact location '{path}' on this server.")
        model.workspace = workspace
        return ArtifactLocation(model.artifact_prefix, "/".join(parts[4:]))
    raise NotFound(f"No artifact location '{path}' on this server.")


@endpoint("GET", "PUT", "DELETE", write=True, atomic=False)
def artifact(request: HttpRequest, workspace: Workspace, artifact_path: str) -> Any:
    if request.META.get("QUERY_STRING"):
        # The client sends none; a '?' in a path would otherwise silently cut it short.
        raise MlflowError.invalid(
            "Artifact requests take no query string; percent-encode '?' in artifact paths."
        )
    location = resolve_location(workspace, artifact_path)
    if request.method == "GET":
        return artifact_file_response(location, attachment=True)
    if request.method == "PUT":
        artifact_write(location=location, stream=UploadBody(request))
        return {}
    if not location.relative:
        raise MlflowError.invalid(
            "Refusing to delete the artifact root of a run or logged model; "
            "delete the run or model instead."
        )
    artifact_delete(location=location)
    return {}


# MLflow's own wording: the client falls back to a single PUT when a multipart upload's create
# call is refused with a message that starts with it (mlflow.exceptions).
MULTIPART_UNSUPPORTED = "Multipart upload is not supported for the current artifact repository"
PRESIGNED_UNSUPPORTED = "Multipart download is not supported for the current artifact repository"


@endpoint("POST")
def multipart_upload(request: HttpRequest, workspace: Workspace, **_: str) -> Any:
    """mpu/create, mpu/complete and mpu/abort. Artifacts are stored in one folder, not an
    object store with upload parts; answered as MLflow's server answers them for a local
    artifact root (NOT_IMPLEMENTED), so a client with MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD set
    uploads the file in one PUT instead."""
    raise MlflowError("NOT_IMPLEMENTED", MULTIPART_UNSUPPORTED)


@endpoint("GET")
def presigned_download(request: HttpRequest, workspace: Workspace, **_: str) -> Any:
    """The same for presigned downloads: with MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD set, the
    client downloads through the proxy after this answer."""
    raise MlflowError("NOT_IMPLEMENTED", PRESIGNED_UNSUPPORTED)


@endpoint("GET")
def list_artifacts(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    raw = request.GET.get("path", "")
    if not clean_relative_path(raw):
        return {}
    entries = artifact_listing(location=resolve_location(workspace, raw))
    if not entries:
        return {}
    return {
        "files": [
            {"path": e.path, "is_dir": e.is_dir, **({} if e.is_dir else {"file_size": e.size})}
            for e in entries
        ]
    }


@endpoint("GET")
def list_run_artifacts(request: HttpRequest, workspace: Workspace) -> dict[str, Any]:
    """MLflow's run-scoped listing: paths relative to the run's artifact root."""
    fields = RequestFields.from_request(request)
    run = run_get(workspace=workspace, run_id=fields.run_id())
    relative = clean_relative_path(fields.string("path"))
    entries = artifact_listing(location=ArtifactLocation(run.artifact_prefix, relative)) or []
    files = [
        {
            "path": f"{relative}/{e.path}" if relative else e.path,
            "is_dir": e.is_dir,
            **({} if e.is_dir else {"file_size": e.size}),
        }
        for e in entries
    ]
    return {"root_uri": run.artifact_uri, "files": files}
