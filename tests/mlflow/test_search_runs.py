"""search_runs through the real mlflow client: every filter family and comparator, ordering,
paging and view types.

Each filter has an expected answer written out, and is also checked against MLflow's own
in-memory implementation (`SearchUtils.filter` / `SearchUtils.sort`) applied to the same runs
as the client reads them back, so a difference from MLflow's semantics fails even where the
written expectation is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    Metric,
    Param,
    Run,
    RunTag,
    ViewType,
)
from mlflow.exceptions import MlflowException
from mlflow.utils.search_utils import SearchUtils

START = 1_700_000_000_000


@dataclass(frozen=True)
class Spec:
    start: int
    end: int | None
    status: str
    user: str
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    dataset: tuple[str, str, str] | None = None


SPECS = {
    "alpha": Spec(
        START + 1000,
        START + 1500,
        "FINISHED",
        "ana",
        {"acc": 0.9, "loss": 0.1, "val acc": 0.8, "train/loss": 0.2},
        {"lr": "a", "optimizer": "adam", "learning rate": "0.1"},
        {"team": "vision", "stage.name": "prod", "tier": "gold", "city": "Zürich"},
        ("iris", "d1g35t01", "training"),
    ),
    "beta": Spec(
        START + 2000,
        START + 2600,
        "FAILED",
        "bob",
        {"acc": 0.5, "loss": math.nan},
        {"lr": "b", "optimizer": "SGD"},
        {"team": "Vision", "tier": "silver"},
        ("wine", "d1g35t02", "evaluation"),
    ),
    "gamma": Spec(
        START + 3000,
        None,
        "RUNNING",
        "ana",
        {"acc": math.nan, "loss": 0.3},
        {"lr": "c"},
        {"team": "nlp_team", "tier": "bronze", "city": "ZÜRICH"},
        ("iris", "d1g35t01", "evaluation"),
    ),
    "delta": Spec(START + 4000, START + 4100, "KILLED", "carl", {}, {"optimizer": "adam"}, {}),
    "epsilon": Spec(
        START + 5000,
        START + 5001,
        "FINISHED",
        "ana",
        {"acc": 1.0, "loss": -math.inf},
        {"lr": "a"},
        {"team": "vision", "tier": "gold"},
    ),
    # Starts with epsilon: the tie is broken by run id.
    "zeta": Spec(
        START + 5000, START + 5002, "FINISHED", "dan", {"acc": 0.5}, {"lr": "b"}, {"tier": "silver"}
    ),
}


@dataclass
class Logged:
    experiment_id: str
    ids: dict[str, str]
    runs: list[Run]

    def names(self, runs: list[Run]) -> list[str]:
        by_id = {run_id: name for name, run_id in self.ids.items()}
        return [by_id[run.info.run_id] for run in runs]


def _log(client: MlflowClient, experiment_id: str, name: str, spec: Spec) -> str:
    run = client.create_run(
        experiment_id, start_time=spec.start, run_name=name, tags={"mlflow.user": spec.user}
    )
    run_id = run.info.run_id
    metrics = [Metric(key, value, spec.start, 1) for key, value in spec.metrics.items()]
    if name == "alpha":
        # An older, higher point: filters compare the latest value (0.9), not the history.
        metrics.append(Metric("acc", 0.95, spec.start, 0))
    client.log_batch(
        run_id,
        metrics=metrics,
        params=[Param(key, value) for key, value in spec.params.items()],
        tags=[RunTag(key, value) for key, value in spec.tags.items()],
    )
    if spec.dataset:
        dataset_name, digest, context = spec.dataset
        client.log_inputs(
            run_id,
            datasets=[
                DatasetInput(
                    Dataset(dataset_name, digest, "local", f"/data/{dataset_name}.csv"),
                    [InputTag("mlflow.data.context", context)],
                )
            ],
        )
    if spec.end is not None:
        client.set_terminated(run_id, spec.status, end_time=spec.end)
    return run_id


@pytest.fixture
def logged(client: MlflowClient) -> Logged:
    experiment_id = client.create_experiment("search")
    ids = {name: _log(client, experiment_id, name, spec) for name, spec in SPECS.items()}
    # A run elsewhere, which no search of `experiment_id` may return.
    other = client.create_experiment("elsewhere")
    client.create_run(other, run_name="outsider", tags={"team": "vision"})
    runs = [client.get_run(run_id) for run_id in ids.values()]
    return Logged(experiment_id, ids, runs)


def _search(client: MlflowClient, logged: Logged, text: str) -> list[str]:
    return logged.names(client.search_runs([logged.experiment_id], filter_string=text))


def metric_filters(logged: Logged) -> dict[str, set[str]]:
    everyone_with_acc = {"alpha", "beta", "gamma", "epsilon", "zeta"}
    return {
        "metrics.acc = 0.5": {"beta", "zeta"},
        # NaN differs from every number: it matches only !=.
        "metrics.acc != 0.5": {"alpha", "gamma", "epsilon"},
        "metrics.acc < 0.9": {"beta", "zeta"},
        "metrics.acc <= 0.9": {"alpha", "beta", "zeta"},
        "metrics.acc > 0.9": {"epsilon"},
        "metrics.acc >= 0.9": {"alpha", "epsilon"},
        "metrics.acc > 0.92": {"epsilon"},
        "metrics.acc > -1e9": everyone_with_acc - {"gamma"},
        "metrics.acc != 12345": everyone_with_acc,
        # NaN is stored as 0 with a flag; the placeholder must never match.
        "metrics.loss = 0": set(),
        "metrics.loss >= 0": {"alpha", "gamma"},
        "metrics.loss <= 0.1": {"alpha", "epsilon"},
        "metrics.loss < -1e308": {"epsilon"},
        "metrics.loss != 0.1": {"beta", "gamma", "epsilon"},
        "metric.acc = 1": {"epsilon"},
        "metrics.`val acc` > 0.5": {"alpha"},
        'metrics."val acc" > 0.5': {"alpha"},
        "metrics.`train/loss` = 0.2": {"alpha"},
        "metrics.acc > 0.4 AND metrics.acc < 0.95": {"alpha", "beta", "zeta"},
        "metrics.missing > 0": set(),
    }


def param_filters(logged: Logged) -> dict[str, set[str]]:
    return {
        "params.lr = 'a'": {"alpha", "epsilon"},
        # != needs the param: a run without it matches no comparison.
        "params.lr != 'a'": {"beta", "gamma", "zeta"},
        "params.optimizer LIKE 'ad%'": {"alpha", "delta"},
        "params.optimizer LIKE 'SG_'": {"beta"},
        # LIKE is case-sensitive, ILIKE is not.
        "params.optimizer LIKE 'sgd'": set(),
        "params.optimizer ILIKE 'sgd'": {"beta"},
        "params.optimizer ILIKE '%A%'": {"alpha", "delta"},
        "params.lr IS NULL": {"delta"},
        "params.lr IS NOT NULL": {"alpha", "beta", "gamma", "epsilon", "zeta"},
        "params.`learning rate` = '0.1'": {"alpha"},
        "params.\"learning rate\" = '0.1'": {"alpha"},
        "param.lr = 'b'": {"beta", "zeta"},
        "parameter.lr = 'c'": {"gamma"},
        'parameters.lr = "c"': {"gamma"},
    }


def tag_filters(logged: Logged) -> dict[str, set[str]]:
    return {
        "tags.team = 'vision'": {"alpha", "epsilon"},
        "tags.team != 'vision'": {"beta", "gamma"},
        "tags.team LIKE 'vis%'": {"alpha", "epsilon"},
        "tags.team ILIKE 'VIS%'": {"alpha", "beta", "epsilon"},
        # `_` is the one-character wildcard.
        "tags.team LIKE 'nlp_team'": {"gamma"},
        "tags.team LIKE 'nlp_tea'": set(),
        "tags.team IS NULL": {"delta", "zeta"},
        "tags.team IS NOT NULL": {"alpha", "beta", "gamma", "epsilon"},
        "tags.`stage.name` = 'prod'": {"alpha"},
        "tags.\"stage.name\" = 'prod'": {"alpha"},
        "tags.mlflow.runName = 'beta'": {"beta"},
        "tags.`mlflow.user` = 'carl'": {"delta"},
        "tag.tier = 'gold'": {"alpha", "epsilon"},
        # Case folding beyond ASCII.
        "tags.city ILIKE 'zürich'": {"alpha", "gamma"},
        "tags.city LIKE 'Zü%'": {"alpha"},
        "tags.city = 'ZÜRICH'": {"gamma"},
    }


def attribute_filters(logged: Logged) -> dict[str, set[str]]:
    ids = logged.ids
    return {
        f"attributes.run_id = '{ids['alpha']}'": {"alpha"},
        f"run_id IN ('{ids['alpha']}', '{ids['beta']}')": {"alpha", "beta"},
        f"attribute.run_id NOT IN ('{ids['alpha']}', '{ids['beta']}')": {
            "gamma",
            "delta",
            "epsilon",
            "zeta",
        },
        "run_name = 'gamma'": {"gamma"},
        "attributes.run_name != 'gamma'": {"alpha", "beta", "delta", "epsilon", "zeta"},
        "attributes.`run name` LIKE 'e%'": {"epsilon"},
        "`Run name` ILIKE 'ALPHA'": {"alpha"},
        "`Run Name` = 'zeta'": {"zeta"},
        "\"run name\" = 'delta'": {"delta"},
        "status = 'FINISHED'": {"alpha", "epsilon", "zeta"},
        "run.status != 'FINISHED'": {"beta", "gamma", "delta"},
        "attr.status LIKE 'F%'": {"alpha", "beta", "epsilon", "zeta"},
        "status ILIKE 'k%'": {"delta"},
        "user_id = 'ana'": {"alpha", "gamma", "epsilon"},
        "attributes.user_id != 'ana'": {"beta", "delta", "zeta"},
        f"artifact_uri LIKE '%/{ids['alpha']}/artifacts'": {"alpha"},
        f"attributes.start_time >= {START + 4000}": {"delta", "epsilon", "zeta"},
        f"start_time = {START + 5000}": {"epsilon", "zeta"},
        f"start_time != {START + 5000}": {"alpha", "beta", "gamma", "delta"},
        f"created < {START + 2000}": {"alpha"},
        f"attributes.Created <= {START + 2000}": {"alpha", "beta"},
        f"end_time > {START + 2000}": {"beta", "delta", "epsilon", "zeta"},
        f"end_time <= {START + 1500}": {"alpha"},
        # A running run has no end_time: it matches no comparison, != included.
        f"end_time != {START + 1500}": {"beta", "delta", "epsilon", "zeta"},
    }


def dataset_filters(logged: Logged) -> dict[str, set[str]]:
    return {
        "datasets.name = 'iris'": {"alpha", "gamma"},
        "dataset.name != 'iris'": {"beta"},
        "datasets.name LIKE 'w%'": {"beta"},
        "datasets.name ILIKE 'IRIS'": {"alpha", "gamma"},
        "datasets.name IN ('wine', 'mnist')": {"beta"},
        "datasets.name NOT IN ('wine')": {"alpha", "gamma"},
        "datasets.digest = 'd1g35t02'": {"beta"},
        "dataset.digest LIKE 'd1g35t0%'": {"alpha", "beta", "gamma"},
        "datasets.context = 'training'": {"alpha"},
        "datasets.context != 'training'": {"beta", "gamma"},
        "datasets.context ILIKE 'EVAL%'": {"beta", "gamma"},
        "datasets.name = 'iris' AND datasets.context = 'evaluation'": {"gamma"},
    }


def combined_filters(logged: Logged) -> dict[str, set[str]]:
    return {
        "metrics.acc > 0.4 AND params.lr = 'b' AND tags.team ILIKE 'vision' "
        f"AND attributes.status = 'FAILED' AND created >= {START}": {"beta"},
        f"run_id = '{logged.ids['alpha']}' AND metrics.acc > 0.95": set(),
    }


FAMILIES = [
    metric_filters,
    param_filters,
    tag_filters,
    attribute_filters,
    dataset_filters,
    combined_filters,
]


def test_filters(subtests: pytest.Subtests, client: MlflowClient, logged: Logged) -> None:
    # given: the runs read back as the filters expect them
    alpha = client.get_run(logged.ids["alpha"])
    assert (alpha.data.metrics["acc"], alpha.info.user_id) == (0.9, "ana")
    assert alpha.info.end_time == START + 1500
    assert client.get_run(logged.ids["gamma"]).info.end_time is None
    assert math.isnan(client.get_run(logged.ids["beta"]).data.metrics["loss"])
    for family in FAMILIES:
        for text, expected in family(logged).items():
            with subtests.test(family.__name__, filter=text):
                # when
                found = _search(client, logged, text)
                # then
                oracle = set(logged.names(SearchUtils.filter(logged.runs, text)))
                assert len(found) == len(set(found))
                assert set(found) == expected
                assert oracle == expected


# String keys are chosen so that bytewise and linguistic collations order them alike.
ORDERS: list[tuple[list[str], list[str] | None]] = [
    # Missing values sort last, NaN after every number, in both directions.
    (["metrics.acc"], ["zeta", "beta", "alpha", "epsilon", "gamma", "delta"]),
    (["metrics.acc DESC"], ["epsilon", "alpha", "zeta", "beta", "gamma", "delta"]),
    (["metrics.loss ASC"], ["epsilon", "alpha", "gamma", "beta", "zeta", "delta"]),
    (["params.lr", "metrics.acc DESC"], ["epsilon", "alpha", "zeta", "beta", "gamma", "delta"]),
    (["run_name DESC"], ["zeta", "gamma", "epsilon", "delta", "beta", "alpha"]),
    (["tags.tier DESC", "attributes.start_time"], None),
    (["attributes.start_time"], None),
    (["start_time DESC"], None),
    (["created"], None),
    (["end_time"], None),
    (["attributes.end_time DESC"], None),
    (["status", "user_id DESC"], None),
    (["params.`learning rate`"], None),
    (["metrics.`val acc` DESC"], None),
    (["run_id"], None),
    (["attr.artifact_uri DESC"], None),
    ([], None),
]


def test_order_by(subtests: pytest.Subtests, client: MlflowClient, logged: Logged) -> None:
    for order_by, expected in ORDERS:
        with subtests.test(order_by=order_by):
            found = logged.names(client.search_runs([logged.experiment_id], order_by=order_by))
            assert found == logged.names(SearchUtils.sort(logged.runs, order_by))
            if expected is not None:
                assert found == expected
    # The default: start_time DESC, then run id.
    tied = sorted(["epsilon", "zeta"], key=lambda name: logged.ids[name])
    default = logged.names(client.search_runs([logged.experiment_id]))
    assert default == [*tied, "delta", "gamma", "beta", "alpha"]


def test_paging_walks_every_run_once(
    subtests: pytest.Subtests, client: MlflowClient, logged: Logged
) -> None:
    for order_by in ([], ["metrics.acc DESC"], ["params.lr", "run_name DESC"]):
        with subtests.test(order_by=order_by):
            everything = client.search_runs([logged.experiment_id], order_by=order_by)
            pages, token = [], None
            while True:
                page = client.search_runs(
                    [logged.experiment_id], max_results=2, order_by=order_by, page_token=token
                )
                pages.append(logged.names(page))
                token = page.token
                if not token:
                    break
            assert [len(page) for page in pages] == [2, 2, 2]
            assert [name for page in pages for name in page] == logged.names(everything)
    # A filtered search with an uneven last page.
    first = client.search_runs(
        [logged.experiment_id], "params.lr IS NOT NULL", max_results=3, order_by=["run_name"]
    )
    second = client.search_runs(
        [logged.experiment_id],
        "params.lr IS NOT NULL",
        max_results=3,
        order_by=["run_name"],
        page_token=first.token,
    )
    assert logged.names(first) == ["alpha", "beta", "epsilon"]
    assert logged.names(second) == ["gamma", "zeta"]
    assert not second.token


def test_run_view_types(client: MlflowClient, logged: Logged) -> None:
    # given
    client.delete_run(logged.ids["delta"])
    client.delete_run(logged.ids["gamma"])

    # when
    def view(view_type: int) -> set[str]:
        runs = client.search_runs([logged.experiment_id], run_view_type=view_type)
        return set(logged.names(runs))

    # then
    assert view(ViewType.ACTIVE_ONLY) == {"alpha", "beta", "epsilon", "zeta"}
    assert view(ViewType.DELETED_ONLY) == {"delta", "gamma"}
    assert view(ViewType.ALL) == set(SPECS)
    deleted_with_filter = client.search_runs(
        [logged.experiment_id], "user_id = 'ana'", run_view_type=ViewType.DELETED_ONLY
    )
    assert logged.names(deleted_with_filter) == ["gamma"]


def test_search_over_several_experiments(client: MlflowClient, logged: Logged) -> None:
    other = client.get_experiment_by_name("elsewhere").experiment_id
    runs = client.search_runs([logged.experiment_id, other], "tags.team = 'vision'")
    assert {run.data.tags["mlflow.runName"] for run in runs} == {"alpha", "epsilon", "outsider"}
    assert client.search_runs([other], "tags.team = 'vision'")[0].info.run_name == "outsider"


def test_fluent_search_runs_as_pandas(tracking: str, client: MlflowClient, logged: Logged) -> None:
    frame = mlflow.search_runs(
        experiment_ids=[logged.experiment_id],
        filter_string="metrics.acc >= 0.5",
        order_by=["metrics.acc DESC"],
    )
    assert list(frame["tags.mlflow.runName"]) == ["epsilon", "alpha", "zeta", "beta"]
    assert list(frame["run_id"]) == [logged.ids[n] for n in ["epsilon", "alpha", "zeta", "beta"]]
    assert list(frame["metrics.acc"]) == [1.0, 0.9, 0.5, 0.5]
    assert list(frame["params.lr"]) == ["a", "a", "b", "b"]
    assert list(frame["status"]) == ["FINISHED", "FINISHED", "FINISHED", "FAILED"]
    by_name = mlflow.search_runs(experiment_names=["search"], filter_string="run_name = 'gamma'")
    assert list(by_name["run_id"]) == [logged.ids["gamma"]]
    as_list = mlflow.search_runs(
        experiment_ids=[logged.experiment_id], filter_string="params.lr = 'c'", output_format="list"
    )
    assert [run.info.run_id for run in as_list] == [logged.ids["gamma"]]
    everywhere = mlflow.search_runs(
        search_all_experiments=True, filter_string="tags.team = 'vision'"
    )
    assert set(everywhere["tags.mlflow.runName"]) == {"alpha", "epsilon", "outsider"}


BAD_FILTERS = [
    "params.lr = 'a' OR params.lr = 'b'",
    "foo.lr = 'a'",
    "attributes.lifecycle_stage = 'active'",
    "params.lr > 'a'",
    "metrics.acc LIKE 0.5",
    "params.lr = a",
    "metrics.acc = 'high'",
    "metrics.acc >",
    "run_name IN ('a')",
    "params.lr <> 'a'",
]
BAD_PAGING: list[dict[str, Any]] = [
    {"order_by": ["metrics.acc SIDEWAYS"]},
    {"order_by": ["datasets.name"]},
    {"order_by": ["metrics.acc", "metric.acc DESC"]},
    {"page_token": "not-a-token"},
    {"page_token": "eyJvZmZzZXQiOiAtMX0="},  # {"offset": -1}
    {"max_results": 50001},
]


def test_bad_requests_are_invalid_parameter_value(
    subtests: pytest.Subtests, client: MlflowClient
) -> None:
    for arguments in [{"filter_string": text} for text in BAD_FILTERS] + BAD_PAGING:
        with subtests.test(**arguments):
            with pytest.raises(MlflowException) as raised:
                client.search_runs(["0"], **arguments)
            assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
