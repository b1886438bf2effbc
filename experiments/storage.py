"""Artifact storage: Django's storage API over a local folder, hardened for untrusted paths."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
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


def walk_files(storage: FileSystemStorage, prefix: str) -> Iterator[tuple[str, int]]:
    """(name, size) of every file under `prefix`, lazily, one folder listing at a time.

    Symbolic links are reported as files and never followed, so deleting what this yields
    cannot reach outside the prefix.
    """
    root = storage.path(prefix)
    pending = [""]
    while pending:
        relative = pending.pop()
        folder = os.path.join(root, relative) if relative else root
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            name = f"{relative}/{entry.name}" if relative else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(name)
                    continue
                size = entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue
            yield f"{prefix}/{name}", size


def iter_files(storage: FileSystemStorage, prefix: str) -> list[str]:
    """Every file name under `prefix` (recursively), relative to the storage root."""
    return [name for name, _size in walk_files(storage, prefix)]


def usage(storage: FileSystemStorage, prefix: str) -> tuple[int, int]:
    """(files, bytes) under `prefix`."""
    files = size = 0
    for _name, file_size in walk_files(storage, prefix):
        files += 1
        size += file_size
    return files, size


def unlink(storage: FileSystemStorage, name: str) -> bool:
    """Remove one file (or symbolic link). False when it was already gone, so that two
    deleters racing over the same folder count each file once."""
    try:
        os.unlink(storage.path(name))
    except FileNotFoundError:
        return False
    return True


def remove_empty_folders(storage: FileSystemStorage, prefix: str) -> None:
    """Remove `prefix` and the folders under it that hold no file (deepest first)."""
    root = storage.path(prefix)
    for directory, _subdirs, _files in sorted(os.walk(root), key=lambda w: -len(w[0])):
        with contextlib.suppress(OSError):
            os.rmdir(directory)


def delete_tree(storage: FileSystemStorage, prefix: str) -> int:
    """Delete every file under `prefix` and then the emptied folders. Returns the files deleted."""
    deleted = sum(unlink(storage, name) for name, _size in list(walk_files(storage, prefix)))
    remove_empty_folders(storage, prefix)
    return deleted
