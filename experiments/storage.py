"""Artifact storage: Django's storage API over a local folder, hardened for untrusted paths."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import IO

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, storages
from django.utils._os import safe_join


class ArtifactStorage(FileSystemStorage):
    """A FileSystemStorage that overwrites in place atomically and never leaves its root.

    Writes go to a temporary file next to the target and are renamed over it, so a failed or
    interrupted upload leaves the previous file (if any) intact. Every path is resolved with
    symlinks followed and must stay under the root.
    """

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("allow_overwrite", True)
        super().__init__(**kwargs)

    def path(self, name: str) -> str:
        candidate = safe_join(self.location, name)
        root = os.path.realpath(self.location)
        resolved = os.path.realpath(candidate)
        if resolved != root and not resolved.startswith(root + os.sep):
            raise SuspiciousFileOperation(f"Path {name!r} resolves outside the artifact root")
        return candidate

    def _save(self, name: str, content: IO[bytes]) -> str:
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True)
        # The directory may have been created through a symlink race; check again.
        self.path(os.path.relpath(directory, self.location))
        fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                chunks = (
                    content.chunks()
                    if hasattr(content, "chunks")
                    else iter(lambda: content.read(1024 * 1024), b"")
                )
                for chunk in chunks:
                    out.write(chunk)
            os.chmod(tmp_path, 0o644)
            os.replace(tmp_path, full_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_path)
            raise
        return name


def artifact_storage() -> FileSystemStorage:
    return storages["artifacts"]


def iter_files(storage: FileSystemStorage, prefix: str) -> list[str]:
    """Every file name under `prefix` (recursively), relative to the storage root."""
    names: list[str] = []
    pending = [prefix]
    while pending:
        current = pending.pop()
        try:
            directories, files = storage.listdir(current)
        except FileNotFoundError:
            continue
        names.extend(f"{current}/{name}" for name in files)
        pending.extend(f"{current}/{name}" for name in directories)
    return names


def delete_tree(storage: FileSystemStorage, prefix: str) -> int:
    """Delete every file under `prefix` and then the emptied folders. Returns the files deleted."""
    files = iter_files(storage, prefix)
    for name in files:
        storage.delete(name)
    root = storage.path(prefix)
    for directory, _subdirs, _files in sorted(os.walk(root), key=lambda w: -len(w[0])):
        with contextlib.suppress(OSError):
            os.rmdir(directory)
    return len(files)
