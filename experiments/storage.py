"""Artifact storage: Django's storage API over a local folder, hardened for untrusted paths."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, storages
from django.utils._os import safe_join

# The name of a file being written, until it replaces its target in one step (_save).
UPLOAD_PREFIX = ".upload-"


class ArtifactStorage(FileSystemStorage):
    """A FileSystemStorage that overwrites in place atomically and never leaves its root.

    Writes go to a temporary file next to the target and are renamed over it, so a failed or
    interrupted upload leaves the previous file (if any) intact. No path may pass through a
    symbolic link below the root: a link planted in a run's folder could lead out of the root
    or into another workspace's folder, which the owner prefixes cannot see. Listings leave
    links out, and deleting a folder removes the links in it, never what they point to.
    """

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("allow_overwrite", True)
        super().__init__(**kwargs)

    def path(self, name: str) -> str:
        if "\x00" in name:
            raise SuspiciousFileOperation("Path names cannot contain NUL characters")
        # safe_join refuses names that leave the root lexically (`..`, absolute paths).
        candidate = safe_join(self.location, name)
        relative = os.path.relpath(candidate, self.location)
        root = os.path.realpath(self.location)
        unlinked = root if relative == os.curdir else os.path.join(root, relative)
        if os.path.realpath(candidate) != unlinked:
            raise SuspiciousFileOperation(f"Path {name!r} passes through a symbolic link")
        return candidate

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        directories: list[str] = []
        files: list[str] = []
        with os.scandir(self.path(path)) as entries:
            for entry in entries:
                if entry.is_symlink():
                    continue
                (directories if entry.is_dir(follow_symlinks=False) else files).append(entry.name)
        return directories, files

    def _save(self, name: str, content: IO[bytes]) -> str:
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True)
        # The directory may have been created through a symlink race; check again.
        self.path(os.path.relpath(directory, self.location))
        fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=UPLOAD_PREFIX)
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
    """Every file name under `prefix` (recursively), links included as names, never followed."""
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
    deleters racing over the same folder count each file once.

    Only the folder is resolved through the storage's checks: a symbolic link planted in it is
    removed itself, never followed.
    """
    folder, _, leaf = name.rpartition("/")
    try:
        os.unlink(os.path.join(storage.path(folder), leaf))
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
    """Delete the folder `prefix` with everything in it. Returns the files deleted.

    Symbolic links inside are removed, never followed (shutil.rmtree also resists links
    swapped in while it runs). Deleting a missing folder deletes nothing: requests are replayed.
    """
    root = storage.path(prefix)
    if os.path.realpath(root) == os.path.realpath(storage.location):
        raise SuspiciousFileOperation("Refusing to delete the whole storage root")
    if not os.path.isdir(root):
        return 0
    deleted = sum(
        1
        for directory, _folders, files in os.walk(root)
        for name in files
        if not os.path.islink(os.path.join(directory, name))
    )
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(root)
    return deleted
