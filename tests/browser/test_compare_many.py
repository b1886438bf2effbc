"""The compare view with many runs in a real browser: charts far below the window wait until
they come near it, so the page is ready when the charts in reach are drawn."""

from __future__ import annotations

import pytest
from django.urls import reverse

from experiments.services.runs import MetricPoint, run_log_batch
from tests.browser.session import sign_in_browser
from tests.factories import make_experiment, make_run, make_workspace

pytestmark = pytest.mark.browser
RUNS = 40
METRICS = 26  # 40 x 26 = 1,040 traces: past the page's LAZY_FROM (1,000)
T0 = 1_700_000_000_000


def test_charts_out_of_reach_are_drawn_when_scrolled_to(
    live_server,  # noqa: ANN001
    page: object,
    console_errors: list[str],
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    workspace = make_workspace()
    experiment = make_experiment(workspace, "many-runs")
    runs = []
    for index in range(RUNS):
        run = make_run(experiment, run_name=f"run-{index}", start_time=T0)
        run_log_batch(
            run=run,
            metrics=[
                MetricPoint(f"m{metric:02d}", metric + index / 100 + step, T0 + step, step)
                for metric in range(METRICS)
                for step in range(2)
            ],
            params=[("seed", str(index))],
        )
        runs.append(run)
    sign_in_browser(page, live_server.url)
    address = reverse("experiments:compare", args=[workspace.resource_group.name, workspace.name])
    metrics = ",".join(f"m{metric:02d}" for metric in range(METRICS))
    page.goto(f"{live_server.url}{address}?runs={','.join(r.uuid for r in runs)}&metrics={metrics}")
    page.wait_for_selector('body[data-charts-ready="true"]')

    charts = page.locator("#metric-charts .chart")
    assert charts.count() == METRICS
    first, last = charts.first, charts.last
    # The first chart is drawn, with a line per run and no legend of 40 entries.
    assert first.get_attribute("data-drawn") == "true"
    assert first.evaluate("element => element.data.length") == RUNS
    assert first.evaluate("element => element._fullLayout.showlegend") is False
    # The last one waits, undrawn, far below the window.
    assert last.get_attribute("data-drawn") == "false"
    assert last.locator(".main-svg").count() == 0

    last.scroll_into_view_if_needed()
    expect(last).to_have_attribute("data-drawn", "true")
    assert last.evaluate("element => element.data.length") == RUNS
    assert last.evaluate("element => element.data[3].name") == "run-3"
    assert console_errors == []
