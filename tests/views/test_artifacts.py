"""The artifact browser: listings, previews with size guards, downloads, refused paths."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse

from experiments.models import Run
from experiments.services.artifacts import ArtifactLocation, artifact_write
from experiments.views import runs as run_views
from tests.factories import make_experiment, make_run, make_workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def run() -> Run:
    run = make_run(make_experiment(make_workspace()))
    for path, data in {
        "notes/readme.txt": b"hello <b>world</b>\n",
        "config.json": b'{"b": [1, 2], "a": "<x>"}',
        "broken.json": b"{not json",
        "table.csv": b"name,score\n<a>,1\nb,2\n",
        "plot.png": b"\x89PNG\r\n\x1a\nnot really",
        "blob.bin": b"\x00\x01\x02\x03",
        "big.log": b"x" * 5000,
    }.items():
        artifact_write(
            location=ArtifactLocation(run.artifact_prefix, path), stream=io.BytesIO(data)
        )
    return run


def address(run: Run, name: str = "run-artifacts") -> str:
    ws = run.workspace
    return reverse(f"experiments:{name}", args=[ws.resource_group.name, ws.name, run.uuid])


def test_listing_and_folders(web: Client, run: Run) -> None:
    html = web.get(address(run)).content.decode()
    assert "notes/" in html
    assert "config.json" in html
    inner = web.get(address(run), {"path": "notes"}).content.decode()
    assert "readme.txt" in inner
    assert "path=notes/readme.txt" in inner


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("notes/readme.txt", "hello &lt;b&gt;world&lt;/b&gt;"),
        ("config.json", "&quot;a&quot;: &quot;&lt;x&gt;&quot;"),
        ("broken.json", "not valid JSON"),
        ("table.csv", "<td>&lt;a&gt;</td><td>1</td>"),
        ("plot.png", "artifacts/raw?path=plot.png"),
        ("blob.bin", "No preview for this kind of file"),
    ],
)
def test_previews(web: Client, run: Run, path: str, expected: str) -> None:
    response = web.get(address(run), {"path": path})
    assert response.status_code == 200
    assert expected in response.content.decode()


def test_long_text_shows_its_head(web: Client, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_views, "TEXT_HEAD_BYTES", 100)
    html = web.get(address(run), {"path": "big.log"}).content.decode()
    assert "x" * 100 in html
    assert "x" * 101 not in html
    assert "Only the beginning of the file is shown" in html


def test_huge_artifacts_get_413_with_a_message(
    web: Client, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_views, "PREVIEW_MAX_BYTES", 1000)
    response = web.get(address(run), {"path": "big.log"})
    assert response.status_code == 413
    assert "more than the 1000" in response.content.decode()
    monkeypatch.setattr(run_views, "IMAGE_MAX_BYTES", 5)
    assert web.get(address(run), {"path": "plot.png"}).status_code == 413
    assert web.get(address(run, "run-artifact-raw"), {"path": "plot.png"}).status_code == 413


def test_download_and_inline_images(web: Client, run: Run) -> None:
    response = web.get(address(run, "run-artifact-download"), {"path": "notes/readme.txt"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Security-Policy"] == "sandbox"
    assert b"".join(response.streaming_content) == b"hello <b>world</b>\n"
    image = web.get(address(run, "run-artifact-raw"), {"path": "plot.png"})
    assert image["Content-Type"] == "image/png"
    assert image["X-Content-Type-Options"] == "nosniff"
    assert web.get(address(run, "run-artifact-raw"), {"path": "config.json"}).status_code == 404


@pytest.mark.parametrize("path", ["../../etc/passwd", "%2e%2e/x", "/etc/passwd", "a\\b"])
def test_paths_outside_the_run_are_refused(web: Client, run: Run, path: str) -> None:
    response = web.get(address(run), {"path": path})
    assert response.status_code == 400
    assert b"Invalid path" in response.content
    assert web.get(address(run, "run-artifact-download"), {"path": path}).status_code == 400


def test_missing_artifact_is_404(web: Client, run: Run) -> None:
    response = web.get(address(run), {"path": "nope.txt"})
    assert response.status_code == 404
    assert b"does not exist" in response.content


def test_run_without_artifacts_has_an_empty_listing(web: Client) -> None:
    empty = make_run(make_experiment(make_workspace()))
    response = web.get(address(empty))
    assert response.status_code == 200
    assert b"No artifacts here." in response.content
