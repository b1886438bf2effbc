"""Artifact files of runs and logged models, kept in the `artifacts` storage under their owner's
prefix. Paths come from clients and are untrusted: they are decoded until stable, validated, and
only the validated value is used.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, TypeVar
from urllib.parse import unquote

from django.core.exceptions import SuspiciousFileOperation

from experiments.errors import InvalidInput, NotFound
from experiments.storage import UPLOAD_PREFIX, artifact_storage, delete_tree

T = TypeVar("T")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE_OR_SCHEME = re.compile(r"^(?:[A-Za-z]:|[A-Za-z][A-Za-z0-9+.\-]*://)")
UPLOAD_CHUNK = 1024 * 1024


def clean_relative_path(raw: str) -> str:
    """A safe artifact path relative to its owner's folder ("" for the folder itself).

    Refuses anything that could address another place: parent or current-directory segments
    (also when percent-encoded, however many times), absolute paths, drive letters and URI
    schemes, backslashes, '#', control characters, and empty segments.
    """
    value = raw
    for _ in range(10):
        decoded = unquote(value)
        if decoded == value:
            break
        value = decoded
    else:
        raise InvalidInput("Invalid path: too many levels of percent-encoding.")
    if value in ("", "/"):
        return ""
    if (
        _CONTROL.search(value)
        or "\\" in value
        or "#" in value
        or value.startswith("/")
        or _DRIVE_OR_SCHEME.match(value)
    ):
        raise InvalidInput(f"Invalid path '{raw[:200]}'.")
    segments = value.rstrip("/").split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise InvalidInput(f"Invalid path '{raw[:200]}'.")
    if any(segment.startswith(UPLOAD_PREFIX) for segment in segments):
        # Such a file would never be listed: the name marks uploads still being written.
        raise InvalidInput(
            f"Invalid path '{raw[:200]}': names starting with '{UPLOAD_PREFIX}' are reserved."
        )
    return "/".join(segments)


@dataclass(frozen=True)
class ArtifactLocation:
    """A file or folder inside one owner's (run's or model's) artifact folder."""

    owner_prefix: str
    relative: str

    @property
    def name(self) -> str:
        return f"{self.owner_prefix}/{self.relative}" if self.relative else self.owner_prefix


@dataclass(frozen=True)
class ArtifactEntry:
    path: str
    is_dir: bool
    size: int | None


# Errors of the file system that a client's path alone can cause.
_PATH_ERRNOS = {
    errno.ENAMETOOLONG: "is too long",
    errno.ENOTDIR: "goes through a file",
    errno.EEXIST: "goes through a file",
    errno.EISDIR: "is a directory",
}


def _storage_call(function: Callable[..., T], *args: object) -> T:
    try:
        return function(*args)
    except SuspiciousFileOperation:
        raise InvalidInput("Invalid path.") from None
    except OSError as error:
        if error.errno not in _PATH_ERRNOS:
            raise
        raise InvalidInput(f"Invalid path: the path {_PATH_ERRNOS[error.errno]}.") from None


def artifact_write(*, location: ArtifactLocation, stream: IO[bytes]) -> int:
    """Store the bytes read from `stream` at `location`, replacing any previous file atomically."""
    if not location.relative:
        raise InvalidInput("An artifact upload needs a file path.")
    storage = artifact_storage()
    counter = _CountingReader(stream)
    if os.path.isdir(_storage_call(storage.path, location.name)):
        raise InvalidInput(f"'{location.relative}' is a directory.")
    _storage_call(storage.save, location.name, counter)
    return counter.count


def artifact_delete(*, location: ArtifactLocation) -> int:
    """Delete a file or a whole folder. Deleting something absent is not an error (replays)."""
    storage = artifact_storage()
    full_path = _storage_call(storage.path, location.name)
    if os.path.isfile(full_path):
        storage.delete(location.name)
        return 1
    return _storage_call(delete_tree, storage, location.name)


def artifact_listing(*, location: ArtifactLocation) -> list[ArtifactEntry] | None:
    """The direct children of a folder, or None when it is not a folder."""
    storage = artifact_storage()
    full_path = _storage_call(storage.path, location.name)
    if not os.path.isdir(full_path):
        return None
    directories, files = storage.listdir(location.name)
    entries = [ArtifactEntry(name, True, None) for name in directories]
    entries += [
        ArtifactEntry(name, False, storage.size(f"{location.name}/{name}"))
        for name in files
        if not name.startswith(UPLOAD_PREFIX)
    ]
    return sorted(entries, key=lambda entry: entry.path)


def artifact_open(*, location: ArtifactLocation) -> tuple[IO[bytes], int]:
    """An open binary file and its size."""
    storage = artifact_storage()
    full_path = _storage_call(storage.path, location.name)
    if not location.relative or not os.path.isfile(full_path):
        raise NotFound(f"Artifact '{location.relative}' does not exist.")
    return storage.open(location.name, "rb"), storage.size(location.name)


class _CountingReader:
    """Reads a request body in chunks, counting the bytes for the caller."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(UPLOAD_CHUNK if size is None or size < 0 else size)
        self.count += len(data)
        return data

    def chunks(self, chunk_size: int = UPLOAD_CHUNK) -> Iterator[bytes]:
        while data := self.read(chunk_size):
            yield data
