"""Attack inputs against the mlflow-artifacts proxy and the places a client could pick storage.

Requests go out raw (tests.mlflow.raw_http), so `..` reaches the server unchanged, both through a
workspace tracking URI and through the site root with X-MLFLOW-WORKSPACE. Every attack must be
refused with a 4xx in MLflow's error format, read nothing outside the artifact root, write
nothing anywhere and leave every stored file as it was.

Each test gets its own sandbox folder holding the artifact root and, next to it, a canary
`etc/passwd` placed exactly where an unchecked `..` walk out of a run's folder would land.
Attacks that write aim their absolute paths at the canary too, never at the machine's files.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from experiments.choices import Role
from experiments.models import Experiment, ResourceGroup, Workspace
from experiments.services.access import tracking_token_create
from experiments.services.artifacts import ArtifactLocation, artifact_write
from experiments.services.logged_models import logged_model_create
from experiments.tracking import tracking_uri
from tests.factories import (
    grant,
    make_api_key,
    make_experiment,
    make_run,
    make_user,
    make_workspace,
)
from tests.mlflow.raw_http import RawResponse, assert_client_error, assert_mlflow_error, send

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
ADDRESSING = ["tracking-uri", "workspace-header"]
# From a run's folder (<root>/workspaces/<pk>/runs/<uuid>) five `..` reach the sandbox.
UP_TO_SANDBOX = "../" * 5
REAL_PASSWD_MARKER = b"root:x:0:0"
STORED = b"stored weights"


@dataclass
class Sandbox:
    base_url: str
    workspace: Workspace
    folder: Path
    root: Path
    canary: Path
    token: bytes
    experiment: Experiment
    run_id: str
    run_path: str
    run_dir: Path
    model_path: str
    other_run_path: str
    other_run_dir: Path
    swapped_run_path: str

    def address(self, addressing: str, workspace: Workspace) -> tuple[str, dict[str, str]]:
        """The artifact proxy's URL path and the headers that name the workspace."""
        if addressing == "tracking-uri":
            return urlsplit(tracking_uri(self.base_url, workspace)).path + ARTIFACTS, {}
        return ARTIFACTS, {"X-MLFLOW-WORKSPACE": workspace.name}

    def request(
        self,
        addressing: str,
        method: str,
        raw_path: str,
        *,
        body: bytes = b"attacker bytes",
        workspace: Workspace | None = None,
        credentials: dict[str, str] | None = None,
    ) -> RawResponse:
        """`method` on the artifact proxy; LIST is the listing endpoint with `?path=`.

        `workspace` addresses another workspace than the sandbox's; `credentials` replace the
        owner's (an empty dict: none at all).
        """
        url, headers = self.address(addressing, workspace or self.workspace)
        if credentials is not None:
            headers = {**headers, "Authorization": "", **credentials}
        if method == "LIST":
            return send(self.base_url, "GET", f"{url}?path={raw_path}", headers=headers)
        return send(
            self.base_url,
            method,
            f"{url}/{raw_path}",
            body=body if method == "PUT" else None,
            headers=headers,
        )


def _store(prefix: str, relative: str, content: bytes) -> None:
    artifact_write(location=ArtifactLocation(prefix, relative), stream=io.BytesIO(content))


@pytest.fixture
def sandbox(
    live_server: LiveServer,
    workspace: Workspace,
    signed_in: str,
    settings: Settings,
    tmp_path: Path,
) -> Sandbox:
    root = tmp_path / "artifacts"
    root.mkdir()
    artifacts = settings.STORAGES["artifacts"]
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {**artifacts, "OPTIONS": {**artifacts["OPTIONS"], "location": str(root)}},
    }
    canary = tmp_path / "etc" / "passwd"
    canary.parent.mkdir()
    token = f"canary-{uuid.uuid4().hex}".encode()
    canary.write_bytes(token)
    (tmp_path / "outside").mkdir()

    experiment = make_experiment(workspace)
    run = make_run(experiment)
    _store(run.artifact_prefix, "model/weights.bin", STORED)
    model = logged_model_create(experiment=experiment, name="model")
    _store(model.artifact_prefix, "MLmodel", STORED)
    other_run = make_run(make_experiment(make_workspace()))
    _store(other_run.artifact_prefix, "model/weights.bin", STORED)
    swapped = make_experiment(workspace)
    return Sandbox(
        base_url=live_server.url,
        workspace=workspace,
        folder=tmp_path,
        root=root,
        canary=canary,
        token=token,
        experiment=experiment,
        run_id=run.uuid,
        run_path=f"{experiment.wire_id}/{run.uuid}/artifacts",
        run_dir=root / run.artifact_prefix,
        model_path=f"{experiment.wire_id}/models/{model.model_id}/artifacts",
        other_run_path=f"{other_run.experiment.wire_id}/{other_run.uuid}/artifacts",
        other_run_dir=root / other_run.artifact_prefix,
        swapped_run_path=f"{swapped.wire_id}/{run.uuid}/artifacts",
    )


def snapshot(folder: Path) -> dict[str, Any]:
    """Every entry under `folder` with its content (links by target, never followed)."""
    state: dict[str, Any] = {}
    for current, directories, files in os.walk(folder):
        for name in directories + files:
            path = Path(current, name)
            key = str(path.relative_to(folder))
            if path.is_symlink():
                state[key] = ("link", os.readlink(path))
            elif path.is_dir():
                state[key] = ("dir",)
            else:
                state[key] = ("file", path.read_bytes())
    return state


@pytest.fixture
def real_passwd() -> Iterator[bytes]:
    content = Path("/etc/passwd").read_bytes()
    yield content
    assert Path("/etc/passwd").read_bytes() == content


def assert_refused(sandbox: Sandbox, response: RawResponse, before: dict[str, Any]) -> None:
    assert_client_error(response)
    assert sandbox.token not in response.body
    assert REAL_PASSWD_MARKER not in response.body
    assert STORED not in response.body
    assert snapshot(sandbox.folder) == before


def attack_paths(sandbox: Sandbox, *, system_targets: bool) -> list[tuple[str, str]]:
    """(name, raw path) pairs. Relative walks aim at the canary; absolute paths aim at the
    machine's /etc/passwd when `system_targets` (reads only), else at the canary.
    """
    run, up = sandbox.run_path, UP_TO_SANDBOX
    target = "/etc/passwd" if system_targets else str(sandbox.canary)
    exp, run_id = sandbox.experiment.wire_id, sandbox.run_id
    other_run_id = sandbox.other_run_path.split("/")[1]
    return [
        ("dotdot", "../../etc/passwd"),
        ("dotdot-from-run", f"{run}/{up}etc/passwd"),
        ("dotdot-from-subfolder", f"{run}/model/../{up}etc/passwd"),
        ("dotdot-out-of-the-run", f"{run}/../../{other_run_id}/artifacts/model/weights.bin"),
        ("encoded-slashes", "..%2f..%2fetc%2fpasswd"),
        ("encoded-slashes-from-run", f"{run}/" + "..%2f" * 5 + "etc%2fpasswd"),
        ("encoded-dots", f"{run}/" + "%2e%2e/" * 5 + "etc/passwd"),
        ("double-encoded", "%252e%252e%252f%252e%252e%252fetc%252fpasswd"),
        ("double-encoded-from-run", f"{run}/" + "%252e%252e%252f" * 5 + "etc%252fpasswd"),
        ("triple-encoded-from-run", f"{run}/" + "%25252e%25252e%25252f" * 5 + "etc/passwd"),
        ("backslashes", "..\\..\\etc\\passwd"),
        ("backslashes-from-run", f"{run}/" + "..\\" * 5 + "etc\\passwd"),
        ("encoded-backslashes-from-run", f"{run}/" + "..%5c" * 5 + "etc%5cpasswd"),
        ("absolute", target),
        ("absolute-inside-run", f"{run}/{target}"),
        ("windows-drive", "C:\\Windows\\win.ini"),
        ("windows-drive-slashes", "C:/Windows/win.ini"),
        ("windows-drive-inside-run", f"{run}/C:\\Windows\\win.ini"),
        ("file-uri", f"file://{target}"),
        ("file-uri-inside-run", f"{run}/file://{target}"),
        ("proc-root", f"//proc/self/root{target}"),
        ("proc-root-inside-run", f"{run}//proc/self/root{target}"),
        ("http-fragment", "http:///#/../../etc/"),
        ("http-fragment-inside-run", f"{run}/http:///#/{up}etc/passwd"),
        ("fragment", f"{run}/a#b"),
        ("fragment-then-dotdot", f"{run}/model#/{up}etc/passwd"),
        ("query-with-dotdot", f"{run}/model/weights.bin?path=../../etc/passwd"),
        ("query-splitting-the-path", f"{run}/x?/{up}etc/passwd"),
        ("encoded-question-mark", f"{run}/x%3F/{up}etc/passwd"),
        ("nul", f"{run}/model/weights.bin%00.txt"),
        ("nul-then-dotdot", f"{run}/..%00/{up}etc/passwd"),
        ("double-encoded-nul", f"{run}/x%2500"),
        ("newline", f"{run}/a%0Ab"),
        ("current-folder", f"{run}/./model/weights.bin"),
        ("dot", "."),
        ("empty-segment", f"{run}//model/weights.bin"),
        ("run-id-with-dotdot", f"{exp}/{run_id}%2F..%2F{other_run_id}/artifacts/model/weights.bin"),
        ("other-workspace-run", f"{sandbox.other_run_path}/model/weights.bin"),
        ("swapped-experiment-id", f"{sandbox.swapped_run_path}/model/weights.bin"),
        ("default-experiment-id", f"0/{run_id}/artifacts/model/weights.bin"),
        ("dotdot-from-model", f"{sandbox.model_path}/{up}etc/passwd"),
        ("unknown-model", f"{exp}/models/m-{'0' * 32}/artifacts/MLmodel"),
        ("model-id-with-dotdot", f"{exp}/models/..%2f..%2f{run_id}/artifacts/MLmodel"),
    ]


# Addressings and methods are subtests rather than parameters: one database flush per matrix.


def test_reads_of_attack_paths_are_refused(
    sandbox: Sandbox, subtests: pytest.Subtests, real_passwd: bytes
) -> None:
    for addressing in ADDRESSING:
        for method in ("GET", "LIST"):
            for name, raw_path in attack_paths(sandbox, system_targets=True):
                with subtests.test(name, addressing=addressing, method=method, path=raw_path):
                    before = snapshot(sandbox.folder)
                    response = sandbox.request(addressing, method, raw_path)
                    assert_refused(sandbox, response, before)


def test_writes_to_attack_paths_are_refused(sandbox: Sandbox, subtests: pytest.Subtests) -> None:
    for addressing in ADDRESSING:
        for method in ("PUT", "DELETE"):
            for name, raw_path in attack_paths(sandbox, system_targets=False):
                with subtests.test(name, addressing=addressing, method=method, path=raw_path):
                    before = snapshot(sandbox.folder)
                    response = sandbox.request(addressing, method, raw_path)
                    assert_refused(sandbox, response, before)


def test_callers_without_rights_learn_nothing(sandbox: Sandbox, subtests: pytest.Subtests) -> None:
    """Attack paths from callers without credentials, with bad ones, from an outsider and with
    a tracking token of another workspace: 401 for the first two; for the others 404 (or 400
    for a path no workspace could hold), and the very answer a workspace that does not exist
    gets (outsiders cannot tell that the sandbox's workspace is there)."""
    stranger = make_user()
    own = make_workspace()
    grant(stranger, Role.OWNER, workspace=own)
    _token, foreign_token = tracking_token_create(user=stranger, workspace=own)
    callers = {
        "no credentials": ({}, {401}),
        "invalid key": ({"Authorization": "Bearer pak_forged"}, {401}),
        "outsider's key": ({"Authorization": f"Bearer {make_api_key(stranger)}"}, {404, 400}),
        "another workspace's token": ({"Authorization": f"Bearer {foreign_token}"}, {404, 400}),
    }
    # Same name length as the sandbox's, in a group of the same name length.
    ghost = Workspace(
        name="x" * len(sandbox.workspace.name),
        resource_group=ResourceGroup(name="y" * len(sandbox.workspace.resource_group.name)),
    )
    for caller, (credentials, statuses) in callers.items():
        for addressing in ADDRESSING:
            for method in ("GET", "LIST", "PUT", "DELETE"):
                for name, raw_path in attack_paths(sandbox, system_targets=False):
                    with subtests.test(name, caller=caller, addressing=addressing, method=method):
                        before = snapshot(sandbox.folder)
                        response = sandbox.request(
                            addressing, method, raw_path, credentials=credentials
                        )
                        assert_refused(sandbox, response, before)
                        assert response.status in statuses, response.body
                        missing = sandbox.request(
                            addressing, method, raw_path, credentials=credentials, workspace=ghost
                        )
                        assert (missing.status, _anonymized(missing.json(), ghost)) == (
                            response.status,
                            _anonymized(response.json(), sandbox.workspace),
                        )


def _anonymized(error: dict[str, str], workspace: Workspace) -> dict[str, str]:
    """An error body with the workspace's own names (which the caller sent) blanked out."""
    message = error["message"]
    for name in (workspace.resource_group.name, workspace.name):
        message = message.replace(name, "<name>")
    return {**error, "message": message}


def test_the_attack_setup_reaches_stored_files(sandbox: Sandbox) -> None:
    """The requests above are refused for their paths, not because the setup is broken."""
    path = f"{sandbox.run_path}/model/weights.bin"
    for addressing in ADDRESSING:
        assert sandbox.request(addressing, "GET", path).body == STORED
        listing = sandbox.request(addressing, "LIST", f"{sandbox.run_path}/model").json()
        assert listing == {"files": [{"path": "weights.bin", "is_dir": False, "file_size": 14}]}
        assert sandbox.request(addressing, "PUT", f"{sandbox.run_path}/new.txt").status == 200
        assert (sandbox.run_dir / "new.txt").read_bytes() == b"attacker bytes"
        assert sandbox.request(addressing, "DELETE", f"{sandbox.run_path}/new.txt").status == 200
        assert not (sandbox.run_dir / "new.txt").exists()


def test_shared_and_owner_roots_cannot_be_deleted(
    sandbox: Sandbox, subtests: pytest.Subtests
) -> None:
    exp, run_id = sandbox.experiment.wire_id, sandbox.run_id
    before = snapshot(sandbox.folder)
    roots = [
        "",
        ".",
        "/",
        "./",
        "%2e",
        "%2e/",
        exp,
        f"{exp}/",
        f"{exp}/{run_id}",
        f"{exp}/{run_id}/",
        sandbox.run_path,
        f"{sandbox.run_path}/",
        f"{sandbox.run_path}/.",
        f"{sandbox.run_path}/%2e",
        f"{exp}/models",
        sandbox.model_path,
        f"{sandbox.model_path}/",
    ]
    for addressing in ADDRESSING:
        for raw_path in roots:
            with subtests.test(addressing=addressing, path=raw_path):
                response = sandbox.request(addressing, "DELETE", raw_path)
                assert_refused(sandbox, response, before)
        with subtests.test(addressing=addressing, path="(no trailing slash)"):
            url, headers = sandbox.address(addressing, sandbox.workspace)
            response = send(sandbox.base_url, "DELETE", url, headers=headers)
            assert_refused(sandbox, response, before)


def test_run_artifact_listing_refuses_attack_paths(
    sandbox: Sandbox, subtests: pytest.Subtests
) -> None:
    """artifacts/list takes a path relative to the run's folder."""
    (sandbox.run_dir / "escape").symlink_to(sandbox.canary.parent, target_is_directory=True)
    prefix = urlsplit(tracking_uri(sandbox.base_url, sandbox.workspace)).path
    before = snapshot(sandbox.folder)
    for raw_path in [
        f"{UP_TO_SANDBOX}etc",
        "..%2f..%2f..%2f..%2f..%2fetc",
        "%252e%252e%252f%252e%252e%252f",
        "..\\..\\etc",
        "/etc",
        str(sandbox.canary.parent),
        "C:\\Windows",
        "file:///etc",
        "//proc/self/root/etc",
        "http:///#/../../etc/",
        "a#b",
        "model%00",
        ".",
        "./model",
        "model/../..",
        "model//x",
        "escape",
    ]:
        with subtests.test(path=raw_path):
            url = f"{prefix}{API}/artifacts/list?run_id={sandbox.run_id}&path={raw_path}"
            assert_refused(sandbox, send(sandbox.base_url, "GET", url), before)
    with subtests.test("other workspace's run"):
        other_run_id = sandbox.other_run_path.split("/")[1]
        url = f"{prefix}{API}/artifacts/list?run_id={other_run_id}&path=model"
        response = send(sandbox.base_url, "GET", url)
        assert_mlflow_error(response, 404, "RESOURCE_DOES_NOT_EXIST")
    with subtests.test("the run's own listing"):
        url = f"{prefix}{API}/artifacts/list?run_id={sandbox.run_id}&path=model"
        files = send(sandbox.base_url, "GET", url).json()["files"]
        assert files == [{"path": "model/weights.bin", "is_dir": False, "file_size": len(STORED)}]


@pytest.mark.parametrize("addressing", ADDRESSING)
def test_symlinks_out_of_a_run_folder_are_never_followed(
    sandbox: Sandbox,
    addressing: str,
    subtests: pytest.Subtests,
    real_passwd: bytes,
) -> None:
    # given: links planted on disk inside the run's folder, out of the root and into another
    # workspace's run
    run, etc = sandbox.run_path, sandbox.canary.parent
    (sandbox.run_dir / "escape").symlink_to(etc, target_is_directory=True)
    (sandbox.run_dir / "passwd-link").symlink_to(sandbox.canary)
    (sandbox.run_dir / "system-link").symlink_to("/etc/passwd")
    (sandbox.run_dir / "neighbour").symlink_to(sandbox.other_run_dir, target_is_directory=True)
    (sandbox.run_dir / "model" / "escape").symlink_to(etc, target_is_directory=True)
    before = snapshot(sandbox.folder)
    attacks = [
        ("GET", f"{run}/escape/passwd"),
        ("GET", f"{run}/passwd-link"),
        ("GET", f"{run}/system-link"),
        ("GET", f"{run}/neighbour/model/weights.bin"),
        ("GET", f"{run}/model/escape/passwd"),
        ("LIST", f"{run}/escape"),
        ("LIST", f"{run}/passwd-link"),
        ("LIST", f"{run}/neighbour/model"),
        ("LIST", f"{run}/model/escape"),
        ("PUT", f"{run}/escape/passwd"),
        ("PUT", f"{run}/escape/new.txt"),
        ("PUT", f"{run}/escape/sub/new.txt"),
        ("PUT", f"{run}/passwd-link"),
        ("PUT", f"{run}/neighbour/model/weights.bin"),
        ("DELETE", f"{run}/escape/passwd"),
        ("DELETE", f"{run}/escape"),
        ("DELETE", f"{run}/passwd-link"),
        ("DELETE", f"{run}/neighbour/model"),
    ]
    for method, raw_path in attacks:
        with subtests.test(method=method, path=raw_path):
            assert_refused(sandbox, sandbox.request(addressing, method, raw_path), before)

    # The run's own listing answers, without the links.
    with subtests.test("listing beside links"):
        listing = sandbox.request(addressing, "LIST", run)
        assert listing.status == 200
        assert listing.json() == {"files": [{"path": "model", "is_dir": True}]}
        listing = sandbox.request(addressing, "LIST", f"{run}/model")
        assert listing.json()["files"] == [
            {"path": "weights.bin", "is_dir": False, "file_size": len(STORED)}
        ]

    # Deleting a folder removes a link inside it, never what the link points to.
    with subtests.test("deleting a folder holding a link"):
        assert sandbox.request(addressing, "DELETE", f"{run}/model").status == 200
        assert not (sandbox.run_dir / "model").exists()
        assert not os.path.lexists(sandbox.run_dir / "model" / "escape")
        assert sandbox.canary.read_bytes() == sandbox.token
        assert (sandbox.other_run_dir / "model" / "weights.bin").read_bytes() == STORED


@pytest.mark.parametrize("addressing", ADDRESSING)
def test_a_run_folder_that_is_a_link_out_of_the_root_is_never_followed(
    sandbox: Sandbox,
    addressing: str,
    subtests: pytest.Subtests,
) -> None:
    # given: a new run whose folder is a link to a folder outside the root
    run = make_run(sandbox.experiment)
    run_path = f"{sandbox.experiment.wire_id}/{run.uuid}/artifacts"
    outside = sandbox.folder / "outside"
    (outside / "secret.txt").write_bytes(sandbox.token)
    (sandbox.root / run.artifact_prefix).symlink_to(outside, target_is_directory=True)
    before = snapshot(sandbox.folder)
    for method, raw_path in [
        ("GET", f"{run_path}/secret.txt"),
        ("LIST", run_path),
        ("PUT", f"{run_path}/new.txt"),
        ("PUT", f"{run_path}/sub/new.txt"),
        ("DELETE", f"{run_path}/secret.txt"),
    ]:
        with subtests.test(method=method, path=raw_path):
            assert_refused(sandbox, sandbox.request(addressing, method, raw_path), before)


def test_paths_the_file_system_cannot_hold_are_client_errors(
    sandbox: Sandbox, subtests: pytest.Subtests
) -> None:
    run, long_name = sandbox.run_path, "n" * 300
    before = snapshot(sandbox.folder)
    for method, raw_path in [
        ("PUT", f"{run}/{long_name}"),
        ("PUT", f"{run}/model/weights.bin/child"),
        ("PUT", f"{run}/model"),
        ("GET", f"{run}/{long_name}"),
        ("GET", f"{run}/model/weights.bin/child"),
        ("GET", f"{run}/model"),
    ]:
        with subtests.test(method=method, path=raw_path[-40:]):
            assert_refused(sandbox, sandbox.request("tracking-uri", method, raw_path), before)
    # Nothing is there to list or delete: answered like any missing path.
    for method, raw_path in [
        ("LIST", f"{run}/{long_name}"),
        ("LIST", f"{run}/model/weights.bin/child"),
        ("DELETE", f"{run}/{long_name}"),
        ("DELETE", f"{run}/model/weights.bin/child"),
    ]:
        with subtests.test(method=method, path=raw_path[-40:]):
            response = sandbox.request("tracking-uri", method, raw_path)
            assert (response.status, response.json()) == (200, {})
            assert snapshot(sandbox.folder) == before


def test_workspace_header_cannot_point_a_tracking_uri_elsewhere(sandbox: Sandbox) -> None:
    other = make_workspace()
    prefix = urlsplit(tracking_uri(sandbox.base_url, sandbox.workspace)).path
    response = send(
        sandbox.base_url,
        "GET",
        f"{prefix}{ARTIFACTS}/{sandbox.run_path}/model/weights.bin",
        headers={"X-MLFLOW-WORKSPACE": other.name},
    )
    assert_mlflow_error(response, 400, "INVALID_PARAMETER_VALUE")
    assert STORED not in response.body


def test_downloads_are_attachments_that_browsers_do_not_sniff(sandbox: Sandbox) -> None:
    page = b"<html><script>alert(document.cookie)</script></html>"
    path = f"{sandbox.run_path}/report.html"
    assert sandbox.request("tracking-uri", "PUT", path, body=page).status == 200
    response = sandbox.request("tracking-uri", "GET", path)
    assert response.status == 200
    assert response.body == page
    assert response.headers["content-disposition"].startswith("attachment;")
    assert 'filename="report.html"' in response.headers["content-disposition"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_experiment_with_an_artifact_location_is_refused(tracking: str) -> None:
    client = mlflow.MlflowClient(tracking)
    for location in ("/etc", "file:///tmp/elsewhere", "s3://bucket/path", "../../escape"):
        with pytest.raises(MlflowException) as caught:
            client.create_experiment("elsewhere", artifact_location=location)
        assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_experiment_by_name("elsewhere") is None


def test_workspace_with_a_default_artifact_root_is_refused(
    live_server: LiveServer, admin_signed_in: str
) -> None:
    client = mlflow.MlflowClient(live_server.url)
    with pytest.raises(MlflowException) as caught:
        client.create_workspace("elsewhere", default_artifact_root="file:///etc")
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "elsewhere" not in [w.name for w in client.list_workspaces()]

    # given an existing workspace, its artifact root cannot be changed either
    client.create_workspace("team-a")
    with pytest.raises(MlflowException) as caught:
        client.update_workspace("team-a", default_artifact_root="/tmp/elsewhere")
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
