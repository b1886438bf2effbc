"""Run artifacts through the real mlflow client and the mlflow-artifacts proxy: upload, list,
download (byte for byte), overwrite."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import mlflow
import numpy as np
import pytest
import requests
import yaml
from django.conf import settings
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from PIL import Image

from tests.mlflow.raw_http import RawResponse, assert_mlflow_error, send, send_then_close


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` by its relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def source_tree(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "empty-name-dir").mkdir()
    (root / "top.txt").write_text("top level\n")
    (root / "sub" / "data.bin").write_bytes(bytes(range(256)) * 4)
    (root / "sub" / "deeper" / "notes.md").write_text("# notes\n\nünïcödé ✓\n")
    (root / "empty-name-dir" / "x.json").write_text("{}")
    return root


def test_log_artifacts_of_a_tree_lists_and_downloads_it(
    tracking: str, client: MlflowClient, source_tree: Path, tmp_path: Path
) -> None:
    # when
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(source_tree), artifact_path="tree")
    run_id = run.info.run_id
    # then: listings at each level, paths relative to the run's root
    root = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in root] == [("tree", True)]
    level = client.list_artifacts(run_id, "tree")
    assert [(f.path, f.is_dir) for f in level] == [
        ("tree/empty-name-dir", True),
        ("tree/sub", True),
        ("tree/top.txt", False),
    ]
    assert [f.file_size for f in level if not f.is_dir] == [len("top level\n")]
    sub = client.list_artifacts(run_id, "tree/sub")
    assert [(f.path, f.is_dir, f.file_size) for f in sub] == [
        ("tree/sub/data.bin", False, 1024),
        ("tree/sub/deeper", True, None),
    ]
    assert client.list_artifacts(run_id, "tree/missing") == []
    # A file is not a directory: listing it gives nothing, as on an MLflow server.
    assert client.list_artifacts(run_id, "tree/top.txt") == []
    # then: a whole directory and a single file come back byte for byte
    whole = client.download_artifacts(run_id, "tree", str(tmp_path / "whole"))
    assert _tree(Path(whole)) == _tree(source_tree)
    single = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="tree/sub/data.bin", dst_path=str(tmp_path / "single")
    )
    assert Path(single).read_bytes() == bytes(range(256)) * 4
    everything = mlflow.artifacts.download_artifacts(
        artifact_uri=run.info.artifact_uri, dst_path=str(tmp_path / "all")
    )
    assert _tree(Path(everything) / "tree") == _tree(source_tree)


def test_random_binary_file_survives_upload_and_download(
    tracking: str, client: MlflowClient, tmp_path: Path
) -> None:
    # given
    payload = os.urandom(5 * 1024 * 1024 + 17)
    source = tmp_path / "blob.bin"
    source.write_bytes(payload)
    # when
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(source), artifact_path="binary")
    # then
    (listed,) = client.list_artifacts(run.info.run_id, "binary")
    assert (listed.path, listed.file_size) == ("binary/blob.bin", len(payload))
    downloaded = client.download_artifacts(
        run.info.run_id, "binary/blob.bin", str(tmp_path / "out")
    )
    assert Path(downloaded).read_bytes() == payload


def test_text_dict_and_images(tracking: str, client: MlflowClient) -> None:
    pixels = np.zeros((4, 6, 3), dtype=np.uint8)
    pixels[1, 2] = [255, 0, 128]
    picture = Image.new("RGB", (3, 2), color=(10, 20, 30))
    with mlflow.start_run() as run:
        mlflow.log_text("hello ✓", "notes/hello.txt")
        mlflow.log_dict({"a": 1, "b": [1, 2]}, "config/params.json")
        mlflow.log_dict({"a": 1}, "config/params.yaml")
        mlflow.log_image(pixels, "images/array.png")
        mlflow.log_image(picture, "images/pil.png")
        mlflow.log_image(pixels, key="progress", step=3)
    uri = run.info.artifact_uri
    assert mlflow.artifacts.load_text(f"{uri}/notes/hello.txt") == "hello ✓"
    assert mlflow.artifacts.load_dict(f"{uri}/config/params.json") == {"a": 1, "b": [1, 2]}
    assert yaml.safe_load(mlflow.artifacts.load_text(f"{uri}/config/params.yaml")) == {"a": 1}
    array_back = np.asarray(mlflow.artifacts.load_image(f"{uri}/images/array.png"))
    assert np.array_equal(array_back, pixels)
    pil_back = mlflow.artifacts.load_image(f"{uri}/images/pil.png")
    assert pil_back.size == (3, 2)
    assert pil_back.getpixel((0, 0)) == (10, 20, 30)
    # Time-stepped images live under images/ with their metadata.
    stepped = [f.path for f in client.list_artifacts(run.info.run_id, "images")]
    assert "images/array.png" in stepped
    assert any(path.startswith("images/progress") for path in stepped)
    assert len(stepped) > 2


def test_overwriting_an_artifact_replaces_it(tracking: str, client: MlflowClient) -> None:
    with mlflow.start_run() as run:
        mlflow.log_text("first version, longer", "report.txt")
        mlflow.log_text("second", "report.txt")
    uri = run.info.artifact_uri
    assert mlflow.artifacts.load_text(f"{uri}/report.txt") == "second"
    (listed,) = client.list_artifacts(run.info.run_id)
    assert (listed.path, listed.file_size) == ("report.txt", len("second"))


def test_list_artifacts_of_an_empty_run(client: MlflowClient) -> None:
    run_id = client.create_run("0").info.run_id
    assert client.list_artifacts(run_id) == []
    assert client.list_artifacts(run_id, "anything") == []


def test_downloading_a_missing_artifact_fails(
    tracking: str, client: MlflowClient, tmp_path: Path
) -> None:
    run_id = client.create_run("0").info.run_id
    with pytest.raises(MlflowException):
        client.download_artifacts(run_id, "missing.txt", str(tmp_path))


def test_a_file_named_like_an_upload_in_progress_is_refused(
    client: MlflowClient, tmp_path: Path
) -> None:
    run_id = client.create_run("0").info.run_id
    hidden = tmp_path / ".upload-notes.txt"
    hidden.write_text("never listed")
    # The artifact repository raises what requests raises for a 4xx.
    with pytest.raises(requests.HTTPError) as raised:
        client.log_artifact(run_id, str(hidden), "docs")
    assert "'.upload-' are reserved" in str(raised.value)
    assert client.list_artifacts(run_id) == []


def test_artifacts_of_another_run_are_kept_apart(tracking: str, client: MlflowClient) -> None:
    with mlflow.start_run() as first:
        mlflow.log_text("one", "same.txt")
    with mlflow.start_run() as second:
        mlflow.log_text("two", "same.txt")
    assert mlflow.artifacts.load_text(f"{first.info.artifact_uri}/same.txt") == "one"
    assert mlflow.artifacts.load_text(f"{second.info.artifact_uri}/same.txt") == "two"


# --- request bodies: whole or not at all, under the live server and under gunicorn ------------


@pytest.fixture(params=["live server", "gunicorn"])
def any_server(request: pytest.FixtureRequest, transactional_db: None) -> str:
    """The tracking URI on Django's live test server, then on gunicorn: each reads request
    bodies its own way."""
    fixture = "tracking" if request.param == "live server" else "gunicorn_tracking"
    return request.getfixturevalue(fixture)


def _stored_previously(tmp_path: Path, name: str = "model.bin") -> tuple[str, bytes, str]:
    """A run with an artifact `name` already stored: (run id, its bytes, its upload path)."""
    payload = os.urandom(300_000)
    (tmp_path / name).write_bytes(payload)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / name))
    tracking_path = urlsplit(mlflow.get_tracking_uri()).path
    path = (
        f"{tracking_path}/api/2.0/mlflow-artifacts/artifacts/"
        f"{run.info.experiment_id}/{run.info.run_id}/artifacts/{name}"
    )
    return run.info.run_id, payload, path


def _downloaded(run_id: str, name: str, tmp_path: Path) -> bytes:
    folder = tmp_path / f"download-{uuid.uuid4().hex[:8]}"
    return Path(MlflowClient().download_artifacts(run_id, name, str(folder))).read_bytes()


def _chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def _assert_refused_keeping(
    response: RawResponse, message: str, run_id: str, previous: bytes, tmp_path: Path
) -> None:
    """The upload was answered 400 with `message` in MLflow's error body; the file stored
    before it is intact, and no temporary file is left."""
    assert_mlflow_error(response, 400, "INVALID_PARAMETER_VALUE")
    assert message in response.json()["message"]
    assert _downloaded(run_id, "model.bin", tmp_path) == previous
    root = Path(settings.STORAGES["artifacts"]["OPTIONS"]["location"])
    assert [path for path in root.rglob("*") if path.name.startswith(".upload-")] == []


def test_a_large_upload_under_gunicorn_arrives_whole(
    gunicorn_tracking: str, tmp_path: Path
) -> None:
    # given: a file of many of the server's read blocks, and a few bytes more
    payload = os.urandom(24 * 1024 * 1024 + 17)
    (tmp_path / "weights.bin").write_bytes(payload)

    # when
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "weights.bin"))

    # then
    (listed,) = MlflowClient().list_artifacts(run.info.run_id)
    assert (listed.path, listed.file_size) == ("weights.bin", len(payload))
    assert _downloaded(run.info.run_id, "weights.bin", tmp_path) == payload


def test_an_upload_that_breaks_off_keeps_the_previous_file(any_server: str, tmp_path: Path) -> None:
    # given
    run_id, previous, path = _stored_previously(tmp_path)

    # when: a new version announces 2 MB, and the client goes away after 700 kB
    response = send_then_close(
        any_server, path, headers={"Content-Length": str(2_000_000)}, body=b"x" * 700_000
    )

    # then
    _assert_refused_keeping(
        response, "ended after 700000 of the 2000000 bytes", run_id, previous, tmp_path
    )


def test_a_chunked_upload_under_gunicorn_is_stored_whole(
    gunicorn_tracking: str, tmp_path: Path
) -> None:
    # given: what `curl -T -` sends, in pieces smaller and larger than a read block
    pieces = [os.urandom(size) for size in (1, 1000, 70_000, 1024 * 1024 + 3, 5)]
    run_id, _, path = _stored_previously(tmp_path)

    # when
    response = send_then_close(
        gunicorn_tracking,
        path,
        headers={"Transfer-Encoding": "chunked"},
        body=_chunked(*pieces),
    )

    # then
    assert response.status == 200, response.body
    assert _downloaded(run_id, "model.bin", tmp_path) == b"".join(pieces)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_chunked(b"a" * 1000)[:-5] + b"zz\r\nbad\r\n0\r\n\r\n", id="bad chunk size"),
        pytest.param(_chunked(b"a" * 1000, b"b" * 1000)[:-5], id="no last chunk"),
    ],
)
def test_a_malformed_chunked_upload_keeps_the_previous_file(
    gunicorn_tracking: str, tmp_path: Path, body: bytes
) -> None:
    run_id, previous, path = _stored_previously(tmp_path)

    response = send_then_close(
        gunicorn_tracking, path, headers={"Transfer-Encoding": "chunked"}, body=body
    )

    _assert_refused_keeping(response, "could not be read after", run_id, previous, tmp_path)


def test_a_server_that_cannot_read_chunked_uploads_refuses_them(
    tracking: str, tmp_path: Path
) -> None:
    # given: Django's development server, which does not decode chunked bodies
    run_id, previous, path = _stored_previously(tmp_path)

    # when
    response = send_then_close(
        tracking, path, headers={"Transfer-Encoding": "chunked"}, body=_chunked(b"new")
    )

    # then: refused, rather than stored empty
    _assert_refused_keeping(response, "Content-Length", run_id, previous, tmp_path)


# --- multipart transfers: refused as MLflow's server refuses them for a local artifact root ---


def test_a_client_set_for_multipart_transfers_uploads_and_downloads_in_one_request(
    tracking: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a client configured for an MLflow server on an object store, from the first byte
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "1")
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", "true")
    payload = os.urandom(300_000)
    (tmp_path / "model.bin").write_bytes(payload)

    # when
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "model.bin"))

    # then: the client fell back to one PUT, and to the proxied download
    assert _downloaded(run.info.run_id, "model.bin", tmp_path) == payload


@pytest.mark.parametrize(
    ("method", "call"), [("POST", "mpu/create"), ("POST", "mpu/complete"), ("POST", "mpu/abort"),
                         ("GET", "presigned")]
)  # fmt: skip
def test_multipart_calls_answer_not_implemented(
    tracking: str, tmp_path: Path, method: str, call: str
) -> None:
    run_id, previous, upload_path = _stored_previously(tmp_path)
    path = upload_path.replace("mlflow-artifacts/artifacts/", f"mlflow-artifacts/{call}/")

    server = urlsplit(tracking)._replace(path="").geturl()
    response = send(server, method, path, body=b"{}")
    anonymous = send(server, method, path, body=b"{}", headers={"Authorization": ""})

    assert_mlflow_error(response, 501, "NOT_IMPLEMENTED")
    assert_mlflow_error(anonymous, 401, "UNAUTHENTICATED")
    assert "is not supported for the current artifact repository" in response.json()["message"]
    assert _downloaded(run_id, "model.bin", tmp_path) == previous
