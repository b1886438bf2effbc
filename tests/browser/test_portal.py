"""The portal in a real browser: find, open, pick, compare, preview; no console errors.

Data is logged with the real mlflow client. With PORTAL_SCREENSHOTS=<folder> set, the test
also saves screenshots of the main pages there (docs/screenshots holds the committed ones).
"""

from __future__ import annotations

import os
import re
import struct
import time
import zlib
from pathlib import Path

import mlflow
import pytest
from django.contrib.auth.models import User
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from experiments.models import Workspace
from tests.browser.session import sign_in_browser

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("PORTAL_SCREENSHOTS", "")
LONG_RUN_POINTS = 6000


def png(width: int, height: int) -> bytes:
    """A small gradient PNG, so an image artifact needs no imaging library."""
    raw = b"".join(
        b"\x00" + b"".join(bytes((x * 255 // width, y * 255 // height, 160)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def seed(client: MlflowClient, tmp_path: Path) -> dict[str, str]:
    """Two experiments; the sweep has three runs (one long, one with a child) and artifacts."""
    mlflow.set_experiment("nlp-bert-finetune")
    with mlflow.start_run(run_name="bert-base"):
        mlflow.log_metric("loss", 0.7)
    experiment = mlflow.set_experiment("vision-resnet-sweep")
    ids: dict[str, str] = {"experiment": experiment.experiment_id}
    now = int(time.time() * 1000)
    for index, lr in enumerate(("0.1", "0.01", "0.001")):
        with mlflow.start_run(run_name=f"resnet-lr-{lr}") as run:
            ids[f"run{index}"] = run.info.run_id
            mlflow.log_params({"lr": lr, "depth": str(18 + index * 16)})
            mlflow.set_tag("team", "<script>window.__xss = 1</script>")
            points = LONG_RUN_POINTS if index == 0 else 300
            for start in range(0, points, 1000):
                metrics = [
                    Metric(
                        "loss",
                        # a spike at step 4321 that downsampling must keep
                        50.0 if step == 4321 else 1.0 / (1 + step * float(lr)),
                        now + step * 100,
                        step,
                    )
                    for step in range(start, min(start + 1000, points))
                ]
                client.log_batch(run.info.run_id, metrics=metrics)
            client.log_batch(
                run.info.run_id,
                metrics=[Metric("accuracy", 0.5 + index / 10, now, 0)],
                params=[Param("optimizer", "sgd")],
                tags=[RunTag("owner", "ana")],
            )
            if index == 1:
                with mlflow.start_run(run_name="resnet-child-eval", nested=True) as child:
                    ids["child"] = child.info.run_id
                    mlflow.log_metric("loss", 0.3)
            if index == 0:
                mlflow.log_text("epoch 1 done\nepoch 2 done\n", "logs/train.log")
                mlflow.log_dict({"lr": 0.1, "layers": [64, 128]}, "config.json")
                mlflow.log_text("step,loss\n0,1.0\n1,0.5\n2,0.25\n", "metrics.csv")
                image = tmp_path / "curve.png"
                image.write_bytes(png(320, 160))
                mlflow.log_artifact(str(image), "plots")
    return ids


def shot(page: object, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_find_open_pick_compare_and_preview(
    live_server,  # noqa: ANN001
    tracking: str,
    client: MlflowClient,
    workspace: Workspace,
    owner: User,
    page: object,
    console_errors: list[str],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    ids = seed(client, tmp_path)
    base = live_server.url
    # The person who logged the runs (Owner of the workspace) signs in.
    sign_in_browser(page, base, owner)

    # Find the experiment by part of its name, from the home page, while typing.
    page.goto(f"{base}/")
    page.fill("#experiment-search", "RESNET")
    hit = page.locator(".hit", has_text="vision-resnet-sweep")
    expect(hit).to_be_visible()
    expect(hit.locator("mark")).to_have_text("resnet")
    expect(hit).to_contain_text(f"{workspace.resource_group.name}/{workspace.name}")
    expect(hit).to_contain_text("4 runs")
    assert "q=RESNET" in page.url
    shot(page, "home-search")

    # The workspace page lists its experiments; its own search box is scoped to it.
    page.goto(f"{base}/groups/{workspace.resource_group.name}/workspaces/{workspace.name}/")
    expect(page.locator("table.experiments")).to_contain_text("nlp-bert-finetune")
    shot(page, "workspace")
    page.fill("#experiment-search", "sweep")
    expect(page.locator(".hit")).to_have_count(1)
    hit = page.locator(".hit", has_text="vision-resnet-sweep")

    # Open it: the runs table shows the runs, the child nested under its parent.
    hit.locator("a").click()
    expect(page.locator("h1")).to_have_text("Experiment vision-resnet-sweep")
    rows = page.locator("tr.run-row")
    expect(rows).to_have_count(4)
    child = page.locator(f'tr.run-row[data-run-id="{ids["child"]}"]')
    expect(child).to_have_attribute("data-parent-id", ids["run1"])
    shot(page, "experiment")

    # Pick the three sweep runs and compare them.
    for key in ("run0", "run1", "run2"):
        page.check(f'input.run-choice[value="{ids[key]}"]')
    expect(page.locator("#selected-count")).to_have_text("3 selected")
    page.click("#compare-button")
    expect(page.locator("h1")).to_have_text("Compare 3 runs")
    page.wait_for_selector('body[data-charts-ready="true"]')
    loss = page.locator('#metric-charts .chart[data-metric="loss"]')
    traces = loss.evaluate("element => element.data.map(trace => trace.name)")
    assert len(traces) == 3
    # The long run reaches the browser downsampled, marked as such, with its spike.
    assert sum("sampled" in name for name in traces) == 1
    peak = loss.evaluate(
        "element => Math.max(...element._fullData.flatMap(trace => Array.from(trace.y)))"
    )
    assert peak == 50.0
    expect(page.locator("#chart-status")).to_contain_text("downsampled")
    assert page.locator("#parallel-chart .main-svg").count() > 0
    assert page.locator("#scatter-chart .main-svg").count() > 0
    shot(page, "compare")

    # Switch the x axis: the charts are redrawn and the address says so.
    page.select_option("#x-axis", "relative")
    page.wait_for_function(
        "() => document.querySelector('#metric-charts .chart')?.layout?.xaxis?.title?.text"
        " === 'Relative time (s)' && document.body.dataset.chartsReady === 'true'"
    )
    assert re.search(r"[?&]x=relative", page.url)
    assert len(loss.evaluate("element => element.data")) == 3
    # The shared address opens the same view.
    page.goto(page.url)
    page.wait_for_selector('body[data-charts-ready="true"]')
    assert page.locator("#x-axis").input_value() == "relative"

    # The run page: tags shown as text, charts drawn, artifacts previewed.
    page.goto(f"{base}/runs/{ids['run0']}/")
    expect(page.locator("h1")).to_have_text("Run resnet-lr-0.1")
    expect(page.locator("table.tags")).to_contain_text("<script>window.__xss = 1</script>")
    assert page.evaluate("() => window.__xss") is None
    page.wait_for_selector('#run-charts[data-ready="true"]')
    assert page.locator("#run-charts .chart").count() == 2
    shot(page, "run")
    page.click("a.artifact-link >> text=config.json")
    expect(page.locator("#artifact-preview pre")).to_contain_text('"layers": [')
    page.go_back()
    page.click("a.artifact-link >> text=metrics.csv")
    expect(page.locator("#artifact-preview table.csv tbody tr")).to_have_count(3)
    page.go_back()
    page.click("a.artifact-link >> text=plots")
    page.click("a.artifact-link >> text=curve.png")
    image = page.locator("#artifact-preview img")
    expect(image).to_be_visible()
    page.wait_for_function("() => document.querySelector('#artifact-preview img').complete")
    assert image.evaluate("img => img.naturalWidth") == 320
    shot(page, "artifact-preview")

    # The link the mlflow client prints opens the run's page.
    page.goto(f"{tracking}/#/experiments/{ids['experiment']}/runs/{ids['run2']}")
    expect(page.locator("h1")).to_have_text("Run resnet-lr-0.001")

    # At the root tracking URI (MLflow's native workspaces) too.
    page.goto(f"{base}/#/experiments/{ids['experiment']}/runs/{ids['run1']}")
    expect(page.locator("h1")).to_have_text("Run resnet-lr-0.01")

    # So does the experiment link it prints.
    page.goto(f"{tracking}/#/experiments/{ids['experiment']}")
    expect(page.locator("h1")).to_have_text("Experiment vision-resnet-sweep")

    # A bad filter is explained on the page.
    page.goto(f"{base}/runs/{ids['run2']}/")
    page.click("nav.breadcrumbs >> text=vision-resnet-sweep")
    page.fill("#filter", "metrics.loss >> 1")
    page.press("#filter", "Enter")
    expect(page.locator("#filter-error")).to_contain_text(
        "Expected a number to compare metric 'loss'"
    )

    assert not [e for e in console_errors if "status of 400" not in e], console_errors
