"""search_experiments through the real mlflow client: filters, view types, ordering, paging.

Filters are checked against a written expectation and against MLflow's in-memory
`SearchExperimentsUtils.filter` applied to the same experiments as the client reads them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Experiment, ViewType
from mlflow.exceptions import MlflowException
from mlflow.utils.search_utils import SearchExperimentsUtils

NAMES = ["alpha-exp", "Alpha-Big", "beta_exp", "gamma exp", "old-exp"]
TAGS = {
    "alpha-exp": {"team": "vision", "project.code": "p1"},
    "Alpha-Big": {"team": "Vision"},
    "beta_exp": {"team": "nlp"},
    "gamma exp": {},
    "old-exp": {"team": "vision"},
}


@dataclass
class Created:
    ids: dict[str, str]
    experiments: list[Experiment]

    def names(self, experiments: list[Experiment]) -> list[str]:
        by_id = {experiment_id: name for name, experiment_id in self.ids.items()}
        return [by_id[experiment.experiment_id] for experiment in experiments]

    def time(self, name: str) -> int:
        (found,) = [e for e in self.experiments if e.name == name]
        return found.creation_time


@pytest.fixture
def created(client: MlflowClient) -> Created:
    ids = {"Default": "0"}
    for name in NAMES:
        # Creation times must differ for the time filters and orderings to be unambiguous.
        time.sleep(0.003)
        ids[name] = client.create_experiment(name, tags=TAGS[name])
    client.delete_experiment(ids["old-exp"])
    experiments = [client.get_experiment(experiment_id) for experiment_id in ids.values()]
    return Created(ids, experiments)


def _check(client: MlflowClient, created: Created, cases: dict[str, set[str]]) -> None:
    for text, expected in cases.items():
        found = created.names(client.search_experiments(view_type=ViewType.ALL, filter_string=text))
        oracle = set(created.names(SearchExperimentsUtils.filter(created.experiments, text)))
        assert len(found) == len(set(found)), text
        assert (set(found), oracle) == (expected, expected), text


def test_filter_by_name(client: MlflowClient, created: Created) -> None:
    everyone = {"Default", *NAMES}
    _check(
        client,
        created,
        {
            "name = 'alpha-exp'": {"alpha-exp"},
            "attribute.name = 'gamma exp'": {"gamma exp"},
            "name != 'alpha-exp'": everyone - {"alpha-exp"},
            "name LIKE 'alpha%'": {"alpha-exp"},
            "name LIKE '%exp'": {"alpha-exp", "beta_exp", "gamma exp", "old-exp"},
            "name LIKE 'beta_exp'": {"beta_exp"},
            "name ILIKE 'ALPHA%'": {"alpha-exp", "Alpha-Big"},
            "name ILIKE '%a_%'": {"Default", "alpha-exp", "Alpha-Big", "beta_exp", "gamma exp"},
            "name = 'nothing'": set(),
        },
    )


def test_filter_by_tags(client: MlflowClient, created: Created) -> None:
    _check(
        client,
        created,
        {
            "tags.team = 'vision'": {"alpha-exp", "old-exp"},
            "tag.team != 'vision'": {"Alpha-Big", "beta_exp"},
            "tags.team LIKE 'V%'": {"Alpha-Big"},
            "tags.team ILIKE 'v%'": {"alpha-exp", "Alpha-Big", "old-exp"},
            "tags.team IS NULL": {"Default", "gamma exp"},
            "tags.team IS NOT NULL": {"alpha-exp", "Alpha-Big", "beta_exp", "old-exp"},
            "tags.`project.code` = 'p1'": {"alpha-exp"},
            "tags.\"project.code\" = 'p1'": {"alpha-exp"},
            "tags.team = 'vision' AND name LIKE 'a%'": {"alpha-exp"},
        },
    )


def test_filter_by_times_and_ids(client: MlflowClient, created: Created) -> None:
    beta = created.time("beta_exp")
    _check(
        client,
        created,
        {
            f"creation_time = {beta}": {"beta_exp"},
            f"creation_time != {beta}": {"Default", *NAMES} - {"beta_exp"},
            f"creation_time > {beta}": {"gamma exp", "old-exp"},
            f"creation_time >= {beta}": {"beta_exp", "gamma exp", "old-exp"},
            f"creation_time < {created.time('alpha-exp')}": {"Default"},
            f"creation_time <= {created.time('Alpha-Big')}": {"Default", "alpha-exp", "Alpha-Big"},
            # Deleting old-exp updated it after gamma was created.
            f"last_update_time > {created.time('gamma exp')}": {"old-exp"},
        },
    )
    ids = created.ids
    found = client.search_experiments(
        filter_string=f"experiment_id IN ('0', '{ids['beta_exp']}')", order_by=["name"]
    )
    assert created.names(found) == ["Default", "beta_exp"]
    found = client.search_experiments(filter_string=f"experiment_id = '{ids['gamma exp']}'")
    assert created.names(found) == ["gamma exp"]
    found = client.search_experiments(
        filter_string=f"experiment_id NOT IN ('0', '{ids['beta_exp']}') AND experiment_id != "
        f"'{ids['gamma exp']}'"
    )
    assert set(created.names(found)) == {"alpha-exp", "Alpha-Big"}


def test_view_types(client: MlflowClient, created: Created) -> None:
    def view(view_type: int) -> set[str]:
        return set(created.names(client.search_experiments(view_type=view_type)))

    assert view(ViewType.ACTIVE_ONLY) == {"Default", *NAMES} - {"old-exp"}
    assert view(ViewType.DELETED_ONLY) == {"old-exp"}
    assert view(ViewType.ALL) == {"Default", *NAMES}


def test_order_by(client: MlflowClient, created: Created) -> None:
    def order(*order_by: str) -> list[str]:
        return created.names(
            client.search_experiments(view_type=ViewType.ALL, order_by=list(order_by))
        )

    newest_first = ["old-exp", "gamma exp", "beta_exp", "Alpha-Big", "alpha-exp", "Default"]
    by_name = sorted(["Default", *NAMES])
    assert order() == newest_first
    assert order("creation_time DESC") == newest_first
    assert order("creation_time") == newest_first[::-1]
    assert order("name") == by_name
    assert order("attribute.name DESC") == by_name[::-1]
    # Ids follow creation order; the Default experiment is 0.
    assert order("experiment_id") == newest_first[::-1]
    assert order("experiment_id DESC") == newest_first
    assert order("last_update_time DESC")[0] == "old-exp"
    for order_by in (["name"], ["creation_time"], ["last_update_time", "name DESC"]):
        assert order(*order_by) == created.names(
            SearchExperimentsUtils.sort(created.experiments, order_by)
        )


@pytest.mark.parametrize("order_by", [[], ["name"], ["experiment_id DESC"]])
def test_paging_walks_every_experiment_once(
    client: MlflowClient, created: Created, order_by: list[str]
) -> None:
    everything = created.names(client.search_experiments(view_type=ViewType.ALL, order_by=order_by))
    pages, token = [], None
    while True:
        page = client.search_experiments(
            view_type=ViewType.ALL, max_results=4, order_by=order_by, page_token=token
        )
        pages.append(created.names(page))
        token = page.token
        if not token:
            break
    assert [len(page) for page in pages] == [4, 2]
    assert [name for page in pages for name in page] == everything
    assert sorted(everything) == sorted(["Default", *NAMES])


def test_fluent_search_experiments(tracking: str, created: Created) -> None:
    found = mlflow.search_experiments(filter_string="name ILIKE 'alpha%'", order_by=["name"])
    assert [e.name for e in found] == ["Alpha-Big", "alpha-exp"]
    assert found[1].tags == {"team": "vision", "project.code": "p1"}
    # The fluent API pages through everything by itself.
    everything = mlflow.search_experiments(view_type=ViewType.ALL, max_results=None)
    assert len(everything) == len(NAMES) + 1


@pytest.mark.parametrize(
    "text",
    [
        "name = 'a' OR name = 'b'",
        "params.x = 'a'",
        "name > 'a'",
        "name = a",
        "creation_time = 'yesterday'",
        "experiment_id = 'abc'",
        "experiment_id LIKE '1%'",
        "attributes.name = 'a'",
    ],
)
def test_bad_filter_is_invalid_parameter_value(client: MlflowClient, text: str) -> None:
    with pytest.raises(MlflowException) as raised:
        client.search_experiments(filter_string=text)
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    ("order_by", "page_token", "max_results"),
    [(["tags.team"], None, 10), (["name UP"], None, 10), ([], "bad", 10), ([], None, 50001)],
)
def test_bad_order_token_or_size_is_invalid_parameter_value(
    client: MlflowClient, order_by: list[str], page_token: str | None, max_results: int
) -> None:
    with pytest.raises(MlflowException) as raised:
        client.search_experiments(order_by=order_by, page_token=page_token, max_results=max_results)
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
