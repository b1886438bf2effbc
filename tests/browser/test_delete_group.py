"""An admin deletes a resource group in a real browser (Chromium) and watches the job page
reach Deleted, with a real Celery worker doing the work."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from experiments.models import DeletionJob, ResourceGroup
from tests.browser.session import sign_in_browser
from tests.factories import make_group, make_rich_run, make_workspace, seed_runs
from tests.snapshots import ids_of, leftovers
from tests.workers import CeleryWorker


@pytest.mark.django_db(transaction=True)
def test_admin_deletes_a_group_by_typing_its_name(
    live_server: object, celery_workers: Callable[..., CeleryWorker], page: object
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    group = make_group("lab-2019")
    workspace = make_workspace("old-lab", group)
    make_rich_run(workspace)
    seed_runs(workspace, runs=200, points_per_run=20, files_per_run=1)
    ids = ids_of([workspace.pk])
    celery_workers(DELETION_PAUSE_SECONDS="0.02")

    # The admin signs in, opens the group and follows the delete link.
    sign_in_browser(page, live_server.url)  # type: ignore[attr-defined]
    page.goto(f"{live_server.url}/manage/groups/lab-2019/")  # type: ignore[attr-defined]
    page.get_by_role("link", name="Delete resource group…").click()
    expect(page.locator('[data-count="runs"]')).to_have_text("201")
    expect(page.locator('[data-count="metric_points"]')).to_have_text(str(200 * 20 + 6))

    # The button waits for the exact name.
    button = page.get_by_role("button", name="Delete resource group")
    name_field = page.get_by_label("Type lab-2019 to confirm")
    name_field.fill("lab-201")
    expect(button).to_be_disabled()
    name_field.fill("lab-2019")
    expect(button).to_be_enabled()
    button.click()

    # The job page updates by itself until the job is done.
    job = DeletionJob.objects.get()
    expect(page).to_have_url(f"{live_server.url}/manage/jobs/{job.pk}/")  # type: ignore[attr-defined]
    state = page.locator("#job-state")
    expect(state).to_have_attribute("data-state", "deleted", timeout=60_000)
    expect(state).to_have_text("Deleted")
    expect(page.locator("#job-percent")).to_have_text("100.0")
    expect(page.locator('[data-field="deleted_runs"]')).to_have_text("201")
    assert not ResourceGroup.objects.filter(name="lab-2019").exists()
    assert leftovers(ids) == {}
