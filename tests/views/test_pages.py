"""Navigation, search, the experiment page and the run page, as HTTP responses."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from experiments.choices import ContainerState, RunStatus
from experiments.models import Experiment, Run, Workspace
from experiments.services.logged_models import logged_model_create
from experiments.services.runs import (
    DatasetSpec,
    MetricPoint,
    run_log_batch,
    run_log_inputs,
    run_set_tag,
    run_update,
)
from tests.factories import make_experiment, make_run, make_workspace

pytestmark = pytest.mark.django_db


def url(name: str, workspace: Workspace, *args: str) -> str:
    return reverse(
        f"experiments:{name}", args=[workspace.resource_group.name, workspace.name, *args]
    )


def experiment_url(experiment: Experiment) -> str:
    return url("experiment-detail", experiment.workspace, experiment.wire_id)


def run_url(run: Run) -> str:
    return url("run-detail", run.workspace, run.uuid)


def test_home_lists_groups_and_finds_experiments(web: Client) -> None:
    workspace = make_workspace()
    make_experiment(workspace, "<b>bold</b>-exp")
    response = web.get("/", {"q": "BOLD"})
    html = response.content.decode()
    assert response.status_code == 200
    assert workspace.resource_group.name in html
    # the name is escaped and the match highlighted
    assert "&lt;b&gt;<mark>bold</mark>&lt;/b&gt;-exp" in html


def test_search_results_partial_scoped_to_a_workspace(web: Client) -> None:
    first, second = make_workspace(), make_workspace()
    make_experiment(first, "alpha-one")
    make_experiment(second, "alpha-two")
    scope = f"{second.resource_group.name}/{second.name}"
    html = web.get(reverse("experiments:search-results"), {"q": "alpha", "in": scope}).content
    assert b"<mark>alpha</mark>-two" in html
    assert b"-one" not in html
    missing = web.get(reverse("experiments:search-results"), {"q": "a", "in": "no/such"})
    assert missing.status_code == 404


def test_group_and_workspace_pages(web: Client) -> None:
    workspace = make_workspace()
    experiment = make_experiment(workspace, "listed-exp")
    make_run(experiment)
    group_page = web.get(reverse("experiments:group-detail", args=[workspace.resource_group.name]))
    assert workspace.name in group_page.content.decode()
    page = web.get(url("workspace-detail", workspace)).content.decode()
    assert "listed-exp" in page
    assert experiment_url(experiment) in page


def test_deleting_workspaces_are_not_browsable(web: Client) -> None:
    workspace = make_workspace()
    experiment = make_experiment(workspace, "gone-exp")
    run = make_run(experiment)
    Workspace.objects.filter(pk=workspace.pk).update(state=ContainerState.DELETING)
    for address in (url("workspace-detail", workspace), experiment_url(experiment), run_url(run)):
        response = web.get(address)
        assert response.status_code == 404
        assert b"There is no workspace" in response.content
    assert web.get(f"/runs/{run.uuid}/").status_code == 404
    assert b"gone-exp" not in web.get("/", {"q": "gone"}).content


def test_unknown_pages_are_404_with_a_message(web: Client) -> None:
    workspace = make_workspace()
    assert web.get(reverse("experiments:group-detail", args=["nope"])).status_code == 404
    response = web.get(url("experiment-detail", workspace, "999999"))
    assert response.status_code == 404
    assert b"No Experiment with id=999999" in response.content
    assert web.get(url("experiment-detail", workspace, "abc")).status_code == 400
    assert web.get(url("run-detail", workspace, "0" * 32)).status_code == 404
    bad = web.get(url("run-detail", workspace, "<script>"))
    assert bad.status_code == 400
    assert b"&lt;script&gt;" in bad.content
    assert web.get("/no/such/page/").status_code == 404


def test_run_and_experiment_links_redirect_to_canonical_pages(web: Client) -> None:
    workspace = make_workspace()
    experiment = make_experiment(workspace)
    run = make_run(experiment)
    response = web.get(f"/runs/{run.uuid}/")
    assert response.status_code == 302
    assert response["Location"] == run_url(run)
    response = web.get(f"/experiments/{experiment.pk}/")
    assert response["Location"] == experiment_url(experiment)
    assert web.get("/runs/not-a-run/").status_code == 400
    assert web.get(f"/experiments/{10**30}/").status_code == 404
    assert web.get("/experiments/-5/").status_code == 404
    assert web.get("/experiments/x/").status_code == 400


@pytest.fixture
def sweep() -> tuple[Experiment, list[Run]]:
    experiment = make_experiment(make_workspace(), "sweep")
    runs = []
    for index in range(5):
        run = make_run(experiment, run_name=f"run-{index}", start_time=1_000 + index)
        run_log_batch(
            run=run,
            metrics=[MetricPoint("loss", 1.0 / (index + 1), 5, 0)],
            params=[("lr", f"0.{index}")],
        )
        run_update(run=run, status=RunStatus.FINISHED if index % 2 else RunStatus.FAILED)
        runs.append(run)
    run_set_tag(run=runs[1], key="mlflow.parentRunId", value=runs[3].uuid)
    return experiment, runs


def run_names(html: str) -> list[str]:
    return re.findall(r'<tr class="run-row[^>]*data-run-id="[0-9a-f]+"', html) and re.findall(
        r"run-(\d)</a>", html
    )


def test_runs_table_columns_sort_filter_and_children(web: Client, sweep: tuple) -> None:
    experiment, runs = sweep
    address = experiment_url(experiment)
    html = web.get(address).content.decode()
    assert 'class="col-param">0.3<' in html
    # newest first; the child (run-1) sits right under its parent (run-3)
    assert run_names(html) == ["4", "3", "1", "2", "0"]
    assert f'data-parent-id="{runs[3].uuid}"' in html
    by_loss = web.get(address, {"order": "metrics.`loss` ASC"}).content.decode()
    assert run_names(by_loss) == ["4", "3", "1", "2", "0"]
    by_loss = web.get(address, {"order": "metrics.`loss` DESC"}).content.decode()
    assert run_names(by_loss) == ["0", "2", "3", "1", "4"]
    filtered = web.get(address, {"filter": "metrics.loss < 0.3"}).content.decode()
    assert run_names(filtered) == ["4", "3"]
    finished = web.get(address, {"status": "FINISHED"}).content.decode()
    assert run_names(finished) == ["3", "1"]


def test_pages_of_runs(web: Client, sweep: tuple) -> None:
    experiment, _ = sweep
    first = web.get(experiment_url(experiment), {"per_page": 2}).content.decode()
    assert run_names(first) == ["4", "3"]
    assert 'rel="next"' in first
    last = web.get(experiment_url(experiment), {"per_page": 2, "page": 3}).content.decode()
    assert run_names(last) == ["0"]
    assert 'rel="next"' not in last


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"filter": "metrics.loss >> 1"}, "Expected a number to compare metric"),
        ({"filter": "params.lr = 0.1 OR params.lr = 0.2"}, "Expected a quoted string"),
        ({"order": "nonsense.key DESC"}, "Invalid entity type"),
    ],
)
def test_bad_filter_is_explained_on_the_page(
    web: Client, sweep: tuple, query: dict[str, str], message: str
) -> None:
    experiment, _ = sweep
    response = web.get(experiment_url(experiment), query)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert b'id="filter"' in response.content  # the page (and the box) is still there


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"per_page": "100000"}, "page size must be between 1 and 500"),
        ({"per_page": "-1"}, "page size must be between"),
        ({"page": "x"}, "page number must be a whole number"),
        ({"status": "SLEEPING"}, "status must be one of"),
        ({"lifecycle": "zombie"}, "lifecycle must be one of"),
    ],
)
def test_absurd_parameters_are_4xx_with_a_message(
    web: Client, sweep: tuple, query: dict[str, str], message: str
) -> None:
    experiment, _ = sweep
    response = web.get(experiment_url(experiment), query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_runs_table_query_count_does_not_grow_with_runs(web: Client) -> None:
    def queries_for(run_count: int) -> int:
        experiment = make_experiment(make_workspace())
        for index in range(run_count):
            run = make_run(experiment)
            run_log_batch(
                run=run, metrics=[MetricPoint("m", 1.0, 1, 0)], params=[("p", str(index))]
            )
        with CaptureQueriesContext(connection) as captured:
            assert web.get(experiment_url(experiment)).status_code == 200
        return len(captured)

    assert queries_for(1) == queries_for(6)


def test_run_page_shows_everything_escaped(web: Client) -> None:
    experiment = make_experiment(make_workspace())
    run = make_run(experiment, run_name="<i>run</i>", tags=[("team", "<script>alert(1)</script>")])
    run_log_batch(
        run=run,
        metrics=[MetricPoint("loss", 0.25, 10, 3)],
        params=[("lr", "<img src=x onerror=alert(1)>")],
    )
    child = make_run(experiment, run_name="kid")
    run_set_tag(run=child, key="mlflow.parentRunId", value=run.uuid)
    run_log_inputs(
        run=run,
        datasets=[
            DatasetSpec(
                "<train>",
                "abc123",
                "local",
                "/data/train.csv",
                tags=[("mlflow.data.context", "training")],
            )
        ],
    )
    model = logged_model_create(experiment=experiment, name="<clf>", source_run_id=run.uuid)
    html = web.get(run_url(run)).content.decode()
    assert "&lt;train&gt;" in html
    assert "mlflow.data.context=training" in html
    assert "&lt;clf&gt;" in html
    assert model.model_id in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;i&gt;run&lt;/i&gt;" in html
    assert "<script>alert" not in html
    assert ">0.25<" in html
    assert run_url(child) in html


def test_list_pages_query_counts_do_not_grow(web: Client) -> None:
    def queries(address: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert web.get(address).status_code == 200
        return len(captured)

    workspace = make_workspace()
    make_run(make_experiment(workspace, "first-exp"))
    group_page = reverse("experiments:group-detail", args=[workspace.resource_group.name])
    counts = [queries(url("workspace-detail", workspace)), queries(group_page), queries("/?q=exp")]
    for index in range(5):
        make_run(make_experiment(workspace, f"more-exp-{index}"))
        make_workspace(group=workspace.resource_group)
    assert [
        queries(url("workspace-detail", workspace)),
        queries(group_page),
        queries("/?q=exp"),
    ] == counts
