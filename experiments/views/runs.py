"""The run page and its artifact browser (listing, previews with size guards, download)."""

from __future__ import annotations

import csv
import io
import json
import posixpath
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat

from experiments.choices import LifecycleStage
from experiments.downloads import artifact_file_response
from experiments.errors import InvalidInput, NotFound
from experiments.models import Run, RunTag, Workspace
from experiments.selectors.logged_models import logged_models_in
from experiments.selectors.portal import PARENT_RUN_TAG, run_get, workspace_get
from experiments.selectors.runs import run_details
from experiments.services.artifacts import (
    ArtifactLocation,
    artifact_listing,
    artifact_open,
    clean_relative_path,
)
from experiments.views.common import TooLarge, page

# Size guards: nothing bigger is read to show it; the page offers the download instead.
PREVIEW_MAX_BYTES = 50 * 1024 * 1024
TEXT_HEAD_BYTES = 256 * 1024
JSON_MAX_BYTES = 2 * 1024 * 1024
CSV_HEAD_BYTES = 1024 * 1024
CSV_MAX_ROWS = 100
IMAGE_MAX_BYTES = 10 * 1024 * 1024
CHILDREN_SHOWN = 100
NOTE_TAG = "mlflow.note.content"

IMAGE_TYPES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg"}


def _run(request: HttpRequest, group: str, workspace: str, run_id: str) -> tuple[Workspace, Run]:
    ws = workspace_get(user=request.user, group=group, name=workspace)
    return ws, run_get(workspace=ws, run_id=run_id)


@page
def run_detail(request: HttpRequest, group: str, workspace: str, run_id: str) -> HttpResponse:
    ws, run = _run(request, group, workspace, run_id)
    details = run_details(run)
    tags = dict(details.tags)
    parent_id = tags.get(PARENT_RUN_TAG)
    parent = Run.objects.filter(workspace=ws, uuid=parent_id).first() if parent_id else None
    children = list(
        Run.objects.filter(
            workspace=ws,
            pk__in=RunTag.objects.filter(key=PARENT_RUN_TAG, value=run.uuid).values("run_id"),
        ).order_by("-start_time")[:CHILDREN_SHOWN]
    )
    output_ids = [model_id for model_id, _ in details.model_outputs]
    models = list(
        logged_models_in(workspace=ws)
        .filter(source_run_id=run.uuid)
        .union(logged_models_in(workspace=ws).filter(model_id__in=output_ids))
        .order_by("-creation_timestamp_ms")
    )
    listing = artifact_listing(location=ArtifactLocation(run.artifact_prefix, "")) or []
    return render(
        request,
        "experiments/run.html",
        {
            "workspace": ws,
            "group": ws.resource_group,
            "experiment": run.experiment,
            "run": run,
            "details": details,
            "user_tags": [(k, v) for k, v in details.tags if not k.startswith("mlflow.")],
            "system_tags": [(k, v) for k, v in details.tags if k.startswith("mlflow.")],
            "note": tags.get(NOTE_TAG, ""),
            "parent": parent,
            "children": children,
            "models": models,
            "model_inputs": details.model_inputs,
            "entries": listing,
            "path": "",
            "is_deleted": run.lifecycle_stage == LifecycleStage.DELETED,
        },
    )


@dataclass
class Preview:
    kind: str  # image, json, csv, text, none
    text: str = ""
    rows: list[list[str]] | None = None
    truncated: bool = False
    note: str = ""


def _read_head(location: ArtifactLocation, limit: int) -> tuple[bytes, int]:
    handle, size = artifact_open(location=location)
    with handle:
        return handle.read(limit), size


def _decode(data: bytes) -> str | None:
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut by the size guard is not binary data.
        if error.start >= len(data) - 3:
            return data[: error.start].decode("utf-8", errors="replace")
        return None


def _preview(location: ArtifactLocation, size: int) -> Preview:
    name = posixpath.basename(location.relative)
    extension = posixpath.splitext(name)[1].lower()
    if extension in IMAGE_TYPES:
        if size > IMAGE_MAX_BYTES:
            raise TooLarge(
                f"The image '{name}' is {filesizeformat(size)}, more than the "
                f"{filesizeformat(IMAGE_MAX_BYTES)} shown in the browser. Download it instead."
            )
        return Preview("image")
    if extension == ".json" and size <= JSON_MAX_BYTES:
        data, _ = _read_head(location, JSON_MAX_BYTES)
        text = _decode(data)
        if text is not None:
            try:
                return Preview("json", json.dumps(json.loads(text), indent=2, ensure_ascii=False))
            except ValueError:
                return Preview("text", text, note="This file is not valid JSON; shown as text.")
    if extension in {".csv", ".tsv"}:
        data, _ = _read_head(location, CSV_HEAD_BYTES)
        text = _decode(data)
        if text is not None:
            lines = text.splitlines()
            truncated = size > len(data)
            if truncated and lines:
                lines = lines[:-1]  # the last line may be cut by the size guard
            reader = csv.reader(
                io.StringIO("\n".join(lines)), delimiter="\t" if extension == ".tsv" else ","
            )
            rows = []
            for row in reader:
                rows.append(row)
                if len(rows) > CSV_MAX_ROWS:
                    truncated = True
                    rows.pop()
                    break
            return Preview("csv", rows=rows, truncated=truncated)
    data, _ = _read_head(location, TEXT_HEAD_BYTES)
    text = _decode(data)
    if text is not None:
        return Preview("text", text, truncated=size > len(data))
    return Preview("none")


@page
def run_artifacts(request: HttpRequest, group: str, workspace: str, run_id: str) -> HttpResponse:
    """A folder's listing, or a file's preview, at `?path=` under the run's artifacts."""
    ws, run = _run(request, group, workspace, run_id)
    path = clean_relative_path(request.GET.get("path", ""))
    location = ArtifactLocation(run.artifact_prefix, path)
    entries = artifact_listing(location=location)
    if entries is None and not path:
        entries = []  # a run that has logged no artifact yet has no folder
    context: dict[str, Any] = {
        "workspace": ws,
        "group": ws.resource_group,
        "experiment": run.experiment,
        "run": run,
        "path": path,
        "crumbs": _crumbs(path),
    }
    if entries is not None:
        return render(request, "experiments/artifacts.html", {**context, "entries": entries})
    handle, size = artifact_open(location=location)
    handle.close()
    context["size"] = size
    if size > PREVIEW_MAX_BYTES:
        raise TooLarge(
            f"'{path}' is {filesizeformat(size)}, more than the {filesizeformat(PREVIEW_MAX_BYTES)}"
            " the portal previews. Download it instead."
        )
    return render(
        request, "experiments/artifacts.html", {**context, "preview": _preview(location, size)}
    )


def _crumbs(path: str) -> list[tuple[str, str]]:
    parts = path.split("/") if path else []
    return [(part, "/".join(parts[: index + 1])) for index, part in enumerate(parts)]


@page
def run_artifact_download(
    request: HttpRequest, group: str, workspace: str, run_id: str
) -> HttpResponse:
    _, run = _run(request, group, workspace, run_id)
    path = clean_relative_path(request.GET.get("path", ""))
    if not path:
        raise InvalidInput("Name a file to download with ?path=.")
    return artifact_file_response(ArtifactLocation(run.artifact_prefix, path), attachment=True)


@page
def run_artifact_raw(request: HttpRequest, group: str, workspace: str, run_id: str) -> HttpResponse:
    """An image artifact, inline, for the preview's <img>."""
    _, run = _run(request, group, workspace, run_id)
    path = clean_relative_path(request.GET.get("path", ""))
    if posixpath.splitext(path)[1].lower() not in IMAGE_TYPES:
        raise NotFound("Only images are shown inline; download other files.")
    location = ArtifactLocation(run.artifact_prefix, path)
    handle, size = artifact_open(location=location)
    handle.close()
    if size > IMAGE_MAX_BYTES:
        raise TooLarge(f"The image is {filesizeformat(size)}; download it instead.")
    return artifact_file_response(location, attachment=False)
