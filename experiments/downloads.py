"""Artifact files as HTTP responses, for the pages and the MLflow artifact proxy alike."""

from __future__ import annotations

import mimetypes
import posixpath

from django.http import FileResponse

from experiments.services.artifacts import ArtifactLocation, artifact_open

# Streamed in blocks of this size: memory stays flat whatever the file's size.
DOWNLOAD_BLOCK = 1024 * 1024


def artifact_file_response(location: ArtifactLocation, *, attachment: bool) -> FileResponse:
    """The stored file at `location`, streamed, as a download or (`attachment=False`) inline."""
    handle, size = artifact_open(location=location)
    filename = posixpath.basename(location.relative)
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    response = FileResponse(
        handle, content_type=content_type, as_attachment=attachment, filename=filename
    )
    response.block_size = DOWNLOAD_BLOCK
    response["Content-Length"] = str(size)
    # Uploaded files are never interpreted by the portal's origin (an SVG with a script, say).
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response
