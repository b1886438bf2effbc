"""search_experiments through the real mlflow client: filters, view types, ordering, paging.

Filters are checked against a written expectation and against MLflow's in-memory
`SearchExperimentsUtils.filter` applied to the same experiments as the client reads them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

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


def name_filters(created: Created) -> dict[str, set[str]]:
    everyone = {"Default", *NAMES}
    return {
        "name = 'alpha-exp'": {"alpha-exp"},
        "attribute.name = 'gamma exp'": {"gamma exp"},
        "name != 'alpha-exp'": everyone - {"alpha-exp"},
        "name LIKE 'alpha%'": {"alpha-exp"},
        "name LIKE '%exp'": {"alpha-exp", "beta_exp", "gamma exp", "old-exp"},
        "name LIKE 'beta_exp'": {"beta_exp"},
        "name ILIKE 'ALPHA%'": {"alpha-exp", "Alpha-Big"},
        "name ILIKE '%a_%'": {"Default", "alpha-exp", "Alpha-Big", "beta_exp", "gamma exp"},
        "name = 'nothing'": set(),
    }


def tag_filters(created: Created) -> dict[str, set[str]]:
    return {
        "tags.team = 'vision'": {"alpha-exp", "old-exp"},
        "tag.team != 'vision'": {"Alpha-Big", "beta_exp"},
        "tags.team LIKE 'V%'": {"Alpha-Big"},
        "tags.team ILIKE 'v%'": {"alpha-exp", "Alpha-Big", "old-exp"},
        "tags.team IS NULL": {"Default", "gamma exp"},
        "tags.team IS NOT NULL": {"alpha-exp", "Alpha-Big", "beta_exp", "old-exp"},
        "tags.`project.code` = 'p1'": {"alpha-exp"},
        "tags.\"project.code\" = 'p1'": {"alpha-exp"},
        "tags.team = 'vision' AND name LIKE 'a%'": {"alpha-exp"},
    }


def time_filters(created: Created) -> dict[str, set[str]]:
    beta = created.time("beta_exp")
    return {
        f"creation_time = {beta}": {"beta_exp"},
        f"creation_time != {beta}": {"Default", *NAMES} - {"beta_exp"},
        f"creation_time > {beta}": {"gamma exp", "old-exp"},
        f"creation_time >= {beta}": {"beta_exp", "gamma exp", "old-exp"},
        f"creation_time < {created.time('alpha-exp')}": {"Default"},
        f"creation_time <= {created.time('Alpha-Big')}": {"Default", "alpha-exp", "Alpha-Big"},
        # Deleting old-exp updated it after gamma was created.
        f"last_update_time > {created.time('gamma exp')}": {"old-exp"},
    }


def test_filters(subtests: pytest.Subtests, client: MlflowClient, created: Created) -> None:
    for family in (name_filters, tag_filters, time_filters):
        for text, expected in family(created).items():
            with subtests.test(family.__name__, filter=text):
                # when
                found = created.names(
                    client.search_experiments(view_type=ViewType.ALL, filter_string=text)
                )
                # then
                oracle = SearchExperimentsUtils.filter(created.experiments, text)
                assert len(found) == len(set(found))
                assert set(found) == expected
                assert set(created.names(oracle)) == expected


def test_filter_by_experiment_ids(client: MlflowClient, created: Created) -> None:
    # MLflow's in-memory filter compares ids as text; the store, like the portal, as integers.
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
    # As integers: "00" and "-0" are 0, the Default experiment; "007" is 7.
    for zero in ("00", "-0"):
        found = client.search_experiments(filter_string=f"experiment_id = '{zero}'")
        assert created.names(found) == ["Default"], zero
    padded = "00" + ids["beta_exp"]
    found = client.search_experiments(filter_string=f"experiment_id = '{padded}'")
    assert created.names(found) == ["beta_exp"]


def test_view_types(client: MlflowClient, created: Created) -> None:
    def view(view_type: int) -> set[str]:
        return set(created.names(client.search_experiments(view_type=view_type)))

    assert view(ViewType.ACTIVE_ONLY) == {"Default", *NAMES} - {"old-exp"}
    assert view(ViewType.DELETED_ONLY) == {"old-exp"}
    assert view(ViewType.ALL) == {"Default", *NAMES}


def test_order_by(client: MlflowClient, created: Created) -> None:
    def order(*order_by: str, text: str = "") -> list[str]:
        found = client.search_experiments(
            view_type=ViewType.ALL, order_by=list(order_by), filter_string=text
        )
        return created.names(found)

    newest_first = ["old-exp", "gamma exp", "beta_exp", "Alpha-Big", "alpha-exp", "Default"]
    assert order() == newest_first
    assert order("creation_time DESC") == newest_first
    assert order("creation_time") == newest_first[::-1]
    # Ids follow creation order; the Default experiment is 0.
    assert order("experiment_id") == newest_first[::-1]
    assert order("experiment_id DESC") == newest_first
    assert order("last_update_time DESC")[0] == "old-exp"
    # Names compare as the database collates them: "Default" is left out, because it sorts
    # before lowercase names bytewise but after them in a linguistic collation.
    by_name = ["Alpha-Big", "alpha-exp", "beta_exp", "gamma exp", "old-exp"]
    assert order("name", text="name != 'Default'") == by_name
    assert order("attribute.name DESC", text="name != 'Default'") == by_name[::-1]
    for order_by in (["creation_time"], ["last_update_time", "experiment_id DESC"]):
        expected = SearchExperimentsUtils.sort(created.experiments, order_by)
        assert order(*order_by) == created.names(expected)


def test_paging_walks_every_experiment_once(
    subtests: pytest.Subtests, client: MlflowClient, created: Created
) -> None:
    for order_by in ([], ["name"], ["experiment_id DESC"]):
        with subtests.test(order_by=order_by):
            everything = created.names(
                client.search_experiments(view_type=ViewType.ALL, order_by=order_by)
            )
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


BAD_REQUESTS: list[dict[str, Any]] = [
    {"filter_string": "name = 'a' OR name = 'b'"},
    {"filter_string": "params.x = 'a'"},
    {"filter_string": "name > 'a'"},
    {"filter_string": "name = a"},
    {"filter_string": "creation_time = 'yesterday'"},
    {"filter_string": "experiment_id = 'abc'"},
    {"filter_string": "experiment_id LIKE '1%'"},
    {"filter_string": "attributes.name = 'a'"},
    {"order_by": ["tags.team"]},
    {"order_by": ["name UP"]},
    {"page_token": "bad"},
    {"max_results": 50001},
]


def test_bad_requests_are_invalid_parameter_value(
    subtests: pytest.Subtests, client: MlflowClient
) -> None:
    for arguments in BAD_REQUESTS:
        with subtests.test(**arguments):
            with pytest.raises(MlflowException) as raised:
                client.search_experiments(**arguments)
            assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
