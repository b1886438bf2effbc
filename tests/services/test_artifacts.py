"""The artifact service: client paths are decoded until stable, validated, and only then used;
file-system refusals become InvalidInput, never a server error."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from experiments.errors import InvalidInput, NotFound
from experiments.services.artifacts import (
    ArtifactEntry,
    ArtifactLocation,
    artifact_delete,
    artifact_listing,
    artifact_open,
    artifact_write,
    clean_relative_path,
)

CLEAN = {
    "": "",
    "/": "",
    "a": "a",
    "a/b/c.txt": "a/b/c.txt",
    "a/b/": "a/b",
    "%61/b": "a/b",
    "100%25.txt": "100%.txt",
    "with space/x y.txt": "with space/x y.txt",
    "données/é.txt": "données/é.txt",
    "run/C:/x": "run/C:/x",
    "a.b/..c/d..": "a.b/..c/d..",
    "...": "...",
}

REFUSED = {
    "parent": "..",
    "parent at the end": "a/..",
    "parent first": "../a",
    "parent inside": "a/../b",
    "current": ".",
    "current first": "./a",
    "current inside": "a/./b",
    "absolute": "/etc/passwd",
    "double slash first": "//proc/self/root",
    "empty segment": "a//b",
    "backslash": "a\\b",
    "backslash parent": "..\\..\\etc\\passwd",
    "windows drive": "C:\\Windows\\win.ini",
    "windows drive slashes": "C:/Windows/win.ini",
    "windows drive relative": "c:win.ini",
    "file uri": "file:///etc/passwd",
    "http uri": "http:///#/../../etc/",
    "s3 uri": "s3://bucket/key",
    "fragment": "a#b",
    "nul": "a\x00b",
    "newline": "a\nb",
    "delete character": "a\x7fb",
    "encoded parent": "%2e%2e/etc",
    "encoded slashes": "..%2f..%2fetc%2fpasswd",
    "encoded backslash": "..%5c..%5cetc",
    "double-encoded": "%252e%252e%252fetc",
    "triple-encoded": "%25252e%25252e%25252f",
    "encoded nul": "a%00b",
    "double-encoded nul": "a%2500",
    "encoded absolute": "%2fetc%2fpasswd",
    "encoded fragment": "a%23b",
    "an upload's temporary name": "docs/.upload-abc",
    "an upload's temporary folder": ".upload-x/a.txt",
}


@pytest.mark.parametrize(("raw", "expected"), CLEAN.items(), ids=list(CLEAN))
def test_clean_paths_come_back_normalised(raw: str, expected: str) -> None:
    assert clean_relative_path(raw) == expected
    # Decoding is finished: cleaning again changes nothing.
    assert clean_relative_path(expected) == expected


@pytest.mark.parametrize("raw", REFUSED.values(), ids=list(REFUSED))
def test_paths_that_could_address_another_place_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        clean_relative_path(raw)


def test_endless_percent_encoding_is_refused() -> None:
    raw = "%2e"
    for _ in range(12):
        raw = raw.replace("%", "%25")
    with pytest.raises(InvalidInput, match="percent-encoding"):
        clean_relative_path(raw)


@pytest.fixture
def root(settings: Settings, tmp_path: Path) -> Path:
    artifacts = settings.STORAGES["artifacts"]
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {**artifacts, "OPTIONS": {**artifacts["OPTIONS"], "location": str(tmp_path)}},
    }
    return tmp_path


RUN = "workspaces/1/runs/r1"


def write(relative: str, content: bytes = b"data") -> int:
    return artifact_write(location=ArtifactLocation(RUN, relative), stream=io.BytesIO(content))


def test_written_files_are_read_listed_and_deleted(root: Path) -> None:
    assert write("model/weights.bin", b"weights") == 7
    write("notes.txt")
    handle, size = artifact_open(location=ArtifactLocation(RUN, "model/weights.bin"))
    with handle:
        assert (handle.read(), size) == (b"weights", 7)
    assert artifact_listing(location=ArtifactLocation(RUN, "")) == [
        ArtifactEntry("model", True, None),
        ArtifactEntry("notes.txt", False, 4),
    ]
    assert artifact_delete(location=ArtifactLocation(RUN, "model")) == 1
    assert artifact_delete(location=ArtifactLocation(RUN, "model")) == 0
    assert artifact_listing(location=ArtifactLocation(RUN, "model")) is None


def test_paths_the_file_system_cannot_hold_are_invalid_input(root: Path) -> None:
    write("model/weights.bin")
    for relative, says in [
        ("n" * 300, "too long"),
        ("model/" + "n" * 300 + "/x", "too long"),
        ("model/weights.bin/child", "file"),
        ("model/weights.bin/a/b", "file"),
        ("model", "directory"),
    ]:
        with pytest.raises(InvalidInput, match=says):
            write(relative)
    assert (root / RUN / "model" / "weights.bin").read_bytes() == b"data"
    # Reads and deletes of such paths find nothing.
    for relative in ("n" * 300, "model/weights.bin/child"):
        with pytest.raises(NotFound):
            artifact_open(location=ArtifactLocation(RUN, relative))
        assert artifact_listing(location=ArtifactLocation(RUN, relative)) is None
        assert artifact_delete(location=ArtifactLocation(RUN, relative)) == 0


def test_links_in_an_owner_folder_are_invalid_input(
    root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_bytes(b"secret")
    write("model/weights.bin")
    (root / RUN / "escape").symlink_to(outside, target_is_directory=True)
    for call in (
        lambda: write("escape/new.txt"),
        lambda: write("escape/secret.txt"),
        lambda: artifact_open(location=ArtifactLocation(RUN, "escape/secret.txt")),
        lambda: artifact_listing(location=ArtifactLocation(RUN, "escape")),
        lambda: artifact_delete(location=ArtifactLocation(RUN, "escape/secret.txt")),
    ):
        with pytest.raises(InvalidInput):
            call()
    assert [e.path for e in artifact_listing(location=ArtifactLocation(RUN, ""))] == ["model"]
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"secret"


def test_unfinished_uploads_are_not_listed(root: Path) -> None:
    write("a.txt")
    (root / RUN / ".upload-abc123").write_bytes(b"partial")
    assert artifact_listing(location=ArtifactLocation(RUN, "")) == [
        ArtifactEntry("a.txt", False, 4)
    ]


def test_an_upload_needs_a_file_path(root: Path) -> None:
    with pytest.raises(InvalidInput):
        write("")
    with pytest.raises(NotFound):
        artifact_open(location=ArtifactLocation(RUN, ""))
