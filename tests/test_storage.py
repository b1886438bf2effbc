"""ArtifactStorage on its own: names that leave the root, symbolic links, atomic overwrites,
and folder deletion that never follows links."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.core.exceptions import SuspiciousFileOperation

from experiments.storage import ArtifactStorage, delete_tree, iter_files


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A folder holding the storage root `root/` and, beside it, `outside/secret.txt`."""
    (tmp_path / "root").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(b"secret")
    return tmp_path


@pytest.fixture
def storage(sandbox: Path) -> ArtifactStorage:
    return ArtifactStorage(location=str(sandbox / "root"))


def save(storage: ArtifactStorage, name: str, content: bytes) -> str:
    return storage.save(name, io.BytesIO(content))


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file() and not path.is_symlink()
    }


@pytest.mark.parametrize(
    "name",
    [
        "../outside/secret.txt",
        "a/../../outside/secret.txt",
        "/etc/passwd",
        "//etc/passwd",
        "a/b/../../..",
        "a\x00b",
    ],
)
def test_names_that_leave_the_root_are_refused(
    storage: ArtifactStorage, sandbox: Path, name: str
) -> None:
    with pytest.raises(SuspiciousFileOperation):
        storage.path(name)
    with pytest.raises(SuspiciousFileOperation):
        save(storage, name, b"attacker")
    assert (sandbox / "outside" / "secret.txt").read_bytes() == b"secret"
    assert files_under(sandbox / "root") == {}


def test_names_inside_the_root_resolve_under_it(storage: ArtifactStorage, sandbox: Path) -> None:
    root = sandbox / "root"
    assert storage.path("a/b.txt") == str(root / "a" / "b.txt")
    assert storage.path("a/./b/../c.txt") == str(root / "a" / "c.txt")
    assert storage.path("") == str(root)
    assert save(storage, "runs/r1/model.pkl", b"weights") == "runs/r1/model.pkl"
    assert (root / "runs" / "r1" / "model.pkl").read_bytes() == b"weights"


@pytest.mark.parametrize("target", ["outside", "outside/secret.txt", "root/other"])
def test_paths_through_a_symbolic_link_are_refused(
    storage: ArtifactStorage, sandbox: Path, target: str
) -> None:
    """Also links that stay inside the root: they could cross from one workspace to another."""
    root = sandbox / "root"
    (root / "other").mkdir()
    (root / "other" / "kept.txt").write_bytes(b"kept")
    (root / "run").mkdir()
    (root / "run" / "link").symlink_to(sandbox / target)
    before = files_under(sandbox)
    for name in ("run/link", "run/link/secret.txt", "run/link/kept.txt", "run/link/new/x.txt"):
        with pytest.raises(SuspiciousFileOperation):
            storage.path(name)
        with pytest.raises(SuspiciousFileOperation):
            save(storage, name, b"attacker")
        with pytest.raises(SuspiciousFileOperation):
            storage.open(name).close()
    assert files_under(sandbox) == before


def test_a_root_reached_through_a_link_works(sandbox: Path) -> None:
    """The root itself may be a link (a mounted volume); only links below it are refused."""
    (sandbox / "mounted").symlink_to(sandbox / "root", target_is_directory=True)
    storage = ArtifactStorage(location=str(sandbox / "mounted"))
    save(storage, "a/b.txt", b"data")
    assert (sandbox / "root" / "a" / "b.txt").read_bytes() == b"data"
    assert storage.listdir("a") == ([], ["b.txt"])


class FailingStream(io.RawIOBase):
    """An upload that breaks off after its first chunk."""

    def __init__(self) -> None:
        self.sent = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.sent:
            raise ConnectionResetError("client went away")
        self.sent = True
        return b"partial"


def test_an_interrupted_overwrite_keeps_the_previous_file(
    storage: ArtifactStorage, sandbox: Path
) -> None:
    save(storage, "run/model.pkl", b"previous")
    with pytest.raises(ConnectionResetError):
        storage.save("run/model.pkl", FailingStream())
    assert files_under(sandbox / "root") == {"run/model.pkl": b"previous"}


def test_saving_over_an_existing_file_replaces_it(storage: ArtifactStorage, sandbox: Path) -> None:
    save(storage, "run/model.pkl", b"first")
    assert save(storage, "run/model.pkl", b"second") == "run/model.pkl"
    assert files_under(sandbox / "root") == {"run/model.pkl": b"second"}


def test_listings_leave_links_out(storage: ArtifactStorage, sandbox: Path) -> None:
    save(storage, "run/a.txt", b"a")
    save(storage, "run/sub/b.txt", b"b")
    run = sandbox / "root" / "run"
    (run / "dir-link").symlink_to(sandbox / "outside", target_is_directory=True)
    (run / "file-link").symlink_to(sandbox / "outside" / "secret.txt")
    (run / "dangling").symlink_to(sandbox / "nowhere")
    assert storage.listdir("run") == (["sub"], ["a.txt"])
    # The deletion's walk reports links as entries to remove and never descends into them.
    assert sorted(iter_files(storage, "run")) == [
        "run/a.txt", "run/dangling", "run/dir-link", "run/file-link", "run/sub/b.txt",
    ]  # fmt: skip


@pytest.fixture
def tree_with_links(storage: ArtifactStorage, sandbox: Path) -> Path:
    save(storage, "run/a.txt", b"a")
    save(storage, "run/sub/b.txt", b"b")
    save(storage, "kept/c.txt", b"c")
    run = sandbox / "root" / "run"
    (run / "dir-link").symlink_to(sandbox / "outside", target_is_directory=True)
    (run / "sub" / "file-link").symlink_to(sandbox / "outside" / "secret.txt")
    (run / "sub" / "inner-link").symlink_to(sandbox / "root" / "kept", target_is_directory=True)
    return run


def test_deleting_a_folder_removes_links_but_never_their_targets(
    storage: ArtifactStorage, sandbox: Path, tree_with_links: Path
) -> None:
    assert delete_tree(storage, "run") == 2
    assert not os.path.lexists(tree_with_links)
    assert (sandbox / "outside" / "secret.txt").read_bytes() == b"secret"
    assert files_under(sandbox / "root") == {"kept/c.txt": b"c"}


def test_deleting_is_safe_to_replay_and_never_takes_the_root(
    storage: ArtifactStorage, sandbox: Path
) -> None:
    save(storage, "run/a.txt", b"a")
    assert delete_tree(storage, "missing") == 0
    assert delete_tree(storage, "run/a.txt") == 0  # a file is not a folder
    for name in ("", ".", "run/.."):
        with pytest.raises(SuspiciousFileOperation):
            delete_tree(storage, name)
    for name in ("..", "../outside", "/tmp"):
        with pytest.raises(SuspiciousFileOperation):
            delete_tree(storage, name)
    assert files_under(sandbox / "root") == {"run/a.txt": b"a"}
    assert (sandbox / "outside" / "secret.txt").exists()


def test_a_folder_that_is_a_link_is_not_deleted_through(
    storage: ArtifactStorage, sandbox: Path
) -> None:
    (sandbox / "root" / "run").symlink_to(sandbox / "outside", target_is_directory=True)
    with pytest.raises(SuspiciousFileOperation):
        delete_tree(storage, "run")
    assert (sandbox / "outside" / "secret.txt").read_bytes() == b"secret"
