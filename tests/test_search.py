"""experiments.search against MLflow's own parser (mlflow.utils.search_utils), clause by clause.

MLflow validates in two steps: `parse_search_filter` reads the grammar, and its SQL store
refuses wrong comparators and value types when it builds the query. The `_mlflow_*` helpers
below do both steps, so "MLflow accepts" means what an MLflow server accepts. Our parser does
both at once; where MLflow's parser lets something through that its store then refuses (for
example `params.x > 'a'`), our parser rejecting it is the same answer to the client.
"""

from __future__ import annotations

from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.utils.search_utils import SearchExperimentsUtils, SearchUtils

from experiments.errors import InvalidInput
from experiments.search import EXPERIMENTS, RUNS, parse_filter, parse_order_by

Normalised = list[tuple[str, str, str, Any]]


def _normal_value(kind: str, value: Any) -> Any:
    # MLflow keeps metric values as the literal's text; ours are floats.
    return float(value) if kind == "metric" else value


def _mlflow_runs_filter(text: str) -> Normalised:
    """MLflow's clauses for a runs filter, with its store's query-time checks applied."""
    clauses = []
    for clause in SearchUtils.parse_search_filter(text):
        kind, comparator = clause["type"], clause["comparator"].upper()
        key = SearchUtils.translate_key_alias(clause["key"])
        # The dispatch of SqlAlchemyStore's _get_sqlalchemy_filter_clauses: raises on a
        # comparator the entity does not take.
        assert (
            SearchUtils.is_string_attribute(kind, key, comparator)
            or SearchUtils.is_numeric_attribute(kind, key, comparator)
            or SearchUtils.is_metric(kind, comparator)
            or SearchUtils.is_param(kind, comparator)
            or SearchUtils.is_tag(kind, comparator)
            or SearchUtils.is_dataset(kind, comparator)
        )
        clauses.append((kind, key, comparator, _normal_value(kind, clause["value"])))
    return clauses


def _mlflow_experiments_filter(text: str) -> Normalised:
    """MLflow's clauses for an experiments filter, with its store's query-time checks."""
    clauses = []
    for clause in SearchExperimentsUtils.parse_search_filter(text):
        kind, key, value = clause["type"], clause["key"], clause["value"]
        comparator = clause["comparator"].upper()
        # The checks of SqlAlchemyStore's _get_search_experiments_filter_clauses.
        if kind == "attribute" and key == "experiment_id":
            allowed = {"=", "!=", "IN", "NOT IN"}
        elif kind == "attribute" and key in SearchExperimentsUtils.NUMERIC_ATTRIBUTES:
            allowed = {"=", "!=", "<", "<=", ">", ">="}
            if isinstance(value, float):
                raise MlflowException.invalid_parameter_value(f"Invalid value {value}")
        elif kind == "attribute":
            allowed = {"=", "!=", "LIKE", "ILIKE"}
        else:
            allowed = {"=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"}
        if comparator not in allowed:
            raise MlflowException.invalid_parameter_value(f"Invalid comparator {comparator}")
        clauses.append((kind, key, comparator, value))
    return clauses


def _mlflow_runs_order(text: str) -> tuple[str, str, bool]:
    kind, key, ascending = SearchUtils.parse_order_by_for_search_runs(text)
    key = SearchUtils.translate_key_alias(key)
    # The store orders by attributes, metrics, params and tags only.
    assert (
        SearchUtils.is_string_attribute(kind, key, "=")
        or SearchUtils.is_numeric_attribute(kind, key, "=")
        or SearchUtils.is_metric(kind, "=")
        or SearchUtils.is_param(kind, "=")
        or SearchUtils.is_tag(kind, "=")
    ), f"MLflow's store cannot order by {kind}"
    return kind, key, ascending


def _mlflow_experiments_order(text: str) -> tuple[str, str, bool]:
    kind, key, ascending = SearchExperimentsUtils.parse_order_by_for_search_experiments(text)
    if kind != "attribute":
        raise MlflowException.invalid_parameter_value(f"Invalid order_by entity: {kind}")
    return kind, key, ascending


def _ours(text: str, dialect: Any) -> Normalised:
    return [(c.kind, c.key, c.comparator, c.value) for c in parse_filter(text, dialect)]


def _ours_order(text: str, dialect: Any) -> tuple[str, str, bool]:
    (order,) = parse_order_by([text], dialect)
    return order.kind, order.key, order.ascending


def _mlflow_rejects(function: Any, text: str) -> bool:
    try:
        function(text)
    except (MlflowException, AssertionError):
        return True
    return False


VALID_RUN_FILTERS = [
    # metrics: every comparator, number forms
    "metrics.acc = 0.5",
    "metrics.acc != 0.5",
    "metrics.acc < 1",
    "metrics.acc <= 1",
    "metrics.acc > -1",
    "metrics.acc >= -1.5e3",
    "metrics.acc > 1e3",
    "metrics.acc > .5",
    "metrics.acc > 5.",
    "metrics.acc >= 1.0e-3",
    "metric.acc = 1",
    "metrics.acc=1 AND params.lr='a'",
    "metrics.acc != 1 AND metrics.loss<=2",
    # params and tags: every comparator, aliases
    "params.lr = '0.1'",
    "params.lr != '0.1'",
    "params.lr LIKE '0.%'",
    "params.lr like '0.%'",
    "params.lr ILIKE '0.%'",
    "params.lr IS NULL",
    "params.lr is not null",
    "param.lr = 'a'",
    "parameter.lr = 'a'",
    "parameters.lr = 'a'",
    'params.lr = "double quoted"',
    "params.lr = ''",
    "params.lr = 'it''s'",
    "tags.team = 'vision'",
    "tag.team != 'vision'",
    "tags.team LIKE '%on'",
    "tags.team ILIKE '%ON'",
    "tags.team IS NULL",
    "tags.team IS NOT NULL",
    "tags.x='a'",
    "tags.x = 'a' and params.y = 'b'",
    # quoted keys: spaces, dots, slashes
    "params.`learning rate` = '0.1'",
    "params.\"learning rate\" = '0.1'",
    "params.'learning rate' = '0.1'",
    "`params`.`learning rate` = '0.1'",
    "metrics.`a b` > 1",
    'metrics."a b" > 1',
    "metrics.`train/loss` < 1",
    "tags.`mlflow.runName` = 'x'",
    "tags.mlflow.runName = 'x'",
    "tags.\"a.b\" = 'c'",
    "params.a.b = 'c'",
    # attributes: every key, aliases, comparators
    "attributes.run_id = 'abc'",
    "attributes.run_id IN ('a', 'b')",
    'run_id IN ("a", "b")',
    "run_id NOT IN ('a')",
    "run_id in ('a')",
    "attributes.run_name = 'x'",
    "run_name LIKE 'x%'",
    "attributes.`run name` = 'x'",
    "`Run name` = 'x'",
    "`Run Name` ILIKE 'x'",
    "\"run name\" = 'x'",
    "attributes.status = 'FINISHED'",
    "status != 'FAILED'",
    "status LIKE 'F%'",
    "status ILIKE 'f%'",
    "attr.user_id = 'ana'",
    "run.user_id != 'ana'",
    "attribute.artifact_uri LIKE '%artifacts'",
    "attributes.start_time >= 1700000000000",
    "start_time != 5",
    "attributes.start_time = 1.5",
    "end_time <= 5",
    "attributes.end_time > 0",
    "created > 5",
    "attributes.created < 5",
    "Created >= 5.5",
    "status = 'FINISHED' AND status = 'FAILED'",
    # datasets
    "datasets.name = 'iris'",
    "dataset.name != 'iris'",
    "datasets.digest LIKE 'ab%'",
    "datasets.digest ILIKE 'AB%'",
    "datasets.context = 'training'",
    "dataset.context = 'training'",
    "datasets.name IN ('a', 'b')",
    "datasets.context NOT IN ('a')",
]

INVALID_RUN_FILTERS = [
    # joins other than AND, structure
    "tags.x = 'a' OR params.y = 'b'",
    "(params.x = 'a')",
    "params.x",
    "params.x =",
    "= 'a'",
    "'a' = params.x",
    "metrics.x = 1;",
    "metrics.x = 1; metrics.y = 2",
    "params.x = 'a' -- comment",
    "params.x = 'ab'c'",
    # unknown entities and keys
    "foo.x = 'a'",
    "attributes.foo = 'a'",
    "attributes.experiment_id = '1'",
    "attributes.lifecycle_stage = 'active'",
    "datasets.foo = 'a'",
    # comparators an entity does not take (MLflow: parsed, then refused by its store)
    "params.x > 'a'",
    "tags.x < 'a'",
    "params.x <> 'a'",
    "params.x == 'a'",
    "metrics.x LIKE 1",
    "start_time LIKE 5",
    "status > 'A'",
    "datasets.name > 'a'",
    "params.x IS NOT 'a'",
    "metrics.x IS NULL",
    "attributes.status IS NULL",
    # values of the wrong type, unquoted strings
    "metrics.x = 'a'",
    "metrics.x = nan",
    "metrics.x > +1",
    "start_time = 'a'",
    "status = abc",
    "params.x = abc",
    "params.x LIKE 5",
    "tags.x = 1",
    # lists: only run_id and dataset fields, of quoted strings, not empty
    "attributes.status IN ('A')",
    "attributes.run_name IN ('a')",
    "params.x IN ('a')",
    "tags.x NOT IN ('a')",
    "metrics.x IN (1)",
    "metrics.x NOT IN (1)",
    "run_id IN ()",
    "run_id IN (1, 2)",
    "run_id IN ('a', 1)",
    # keys that need quoting
    "metrics.val-loss > 1",
    "metrics.train/loss > 1",
]

# sqlparse lets these through MLflow's parser by accident; the portal refuses them because
# their meaning is a guess (a lost AND, a backslash kept inside the value, a doubled backtick
# kept inside the key). A client that builds filters from parts never sends them.
ACCEPTED_ONLY_BY_MLFLOW = [
    "metrics.x = 1 AND",
    "AND params.x = 'a'",
    "metrics.x < 1 AND AND metrics.y > 2",
    "params.x = 'a' params.y = 'b'",
    "params.x = 'a\\'b'",
    "params.`a``b` = 'x'",
]


@pytest.mark.parametrize("text", VALID_RUN_FILTERS)
def test_valid_run_filter_parses_like_mlflow(text: str) -> None:
    assert _ours(text, RUNS) == _mlflow_runs_filter(text)


@pytest.mark.parametrize("text", INVALID_RUN_FILTERS)
def test_invalid_run_filter_is_rejected_like_mlflow(text: str) -> None:
    assert _mlflow_rejects(_mlflow_runs_filter, text)
    with pytest.raises(InvalidInput):
        parse_filter(text, RUNS)


@pytest.mark.parametrize("text", ACCEPTED_ONLY_BY_MLFLOW)
def test_sloppy_filters_that_mlflow_tolerates_are_rejected(text: str) -> None:
    assert not _mlflow_rejects(_mlflow_runs_filter, text)
    with pytest.raises(InvalidInput):
        parse_filter(text, RUNS)


def test_empty_filter_matches_everything_in_both() -> None:
    assert parse_filter("", RUNS) == parse_filter(None, RUNS) == []
    assert SearchUtils.parse_search_filter("") == []


VALID_RUN_ORDERS = [
    "metrics.x",
    "metrics.x DESC",
    "metrics.x desc",
    "metrics.x ASC",
    "metric.x asc",
    "metrics.`a b` DESC",
    'metrics."a b" DESC',
    "metrics.'a b'",
    "params.x",
    "param.x asc",
    "parameters.x",
    "tags.x DESC",
    "tag.`a.b`",
    "tags.a.b desc",
    "start_time",
    "attributes.start_time DESC",
    "created DESC",
    "Created",
    "attribute.run_name",
    "run_id",
    "status DESC",
    "end_time",
    "user_id",
    "artifact_uri",
    "run.status",
    "attr.status",
    "attributes.end_time DESC",
]

INVALID_RUN_ORDERS = [
    "datasets.name",
    "dataset.name",
    "metrics.x DESC ASC",
    "metrics.x DOWN",
    "foo.x",
    "attributes.foo",
    "metrics.x, params.y",
    "experiment_id",
    "metrics.x DESC NULLS LAST",
    "lifecycle_stage",
    "metrics.val-loss",
    # Run-name aliases are filter-only in MLflow.
    "`run name`",
    "attributes.`Run name`",
    "",
]


@pytest.mark.parametrize("text", VALID_RUN_ORDERS)
def test_valid_run_order_parses_like_mlflow(text: str) -> None:
    assert _ours_order(text, RUNS) == _mlflow_runs_order(text)


@pytest.mark.parametrize("text", INVALID_RUN_ORDERS)
def test_invalid_run_order_is_rejected_like_mlflow(text: str) -> None:
    assert _mlflow_rejects(_mlflow_runs_order, text)
    with pytest.raises(InvalidInput):
        parse_order_by([text], RUNS)


def test_order_with_surrounding_spaces_is_tolerated() -> None:
    # MLflow's parser refuses ' metrics.x' and 'metrics.x DESC '; a stray space has one
    # obvious meaning, so the portal reads it.
    assert _mlflow_rejects(_mlflow_runs_order, " metrics.x DESC ")
    assert _ours_order(" metrics.x DESC ", RUNS) == ("metric", "x", False)


def test_duplicate_order_keys_are_rejected() -> None:
    # MLflow's store refuses them when building the query.
    with pytest.raises(InvalidInput, match="duplicate"):
        parse_order_by(["metrics.x", "metric.x DESC"], RUNS)
    with pytest.raises(InvalidInput, match="duplicate"):
        parse_order_by(["start_time", "created DESC"], RUNS)


VALID_EXPERIMENT_FILTERS = [
    "name = 'a'",
    "name != 'a'",
    "name LIKE 'a%'",
    "name ILIKE 'A%'",
    "attribute.name = 'a'",
    "`name` = 'a'",
    "tags.x = 'a'",
    "tag.x != 'a'",
    "tags.x LIKE 'a%'",
    "tags.x ILIKE 'a%'",
    "tags.x IS NULL",
    "tags.x IS NOT NULL",
    "tags.`a b` LIKE '%'",
    "tags.\"a.b\" = 'c'",
    "creation_time > 5",
    "creation_time >= 5",
    "creation_time = 5",
    "creation_time != 5",
    "last_update_time < 5",
    "last_update_time <= 5",
    "experiment_id = '1'",
    "experiment_id != '1'",
    "experiment_id IN ('1', '2')",
    "experiment_id NOT IN ('1')",
    "name = 'a' AND tags.x = 'b'",
]

INVALID_EXPERIMENT_FILTERS = [
    "attributes.name = 'a'",
    "attr.name = 'a'",
    "run.name = 'a'",
    "params.x = 'a'",
    "metrics.x > 1",
    "datasets.name = 'a'",
    "lifecycle_stage = 'active'",
    "name IS NULL",
    "name > 'a'",
    "name IN ('a')",
    "experiment_id > '1'",
    "experiment_id LIKE '1%'",
    "creation_time = 'a'",
    "creation_time > 1.5",
    "creation_time LIKE 5",
    "creation_time IN (1)",
    "tags.x > 'a'",
    "name = 'a' OR name = 'b'",
    "name = a",
]


@pytest.mark.parametrize("text", VALID_EXPERIMENT_FILTERS)
def test_valid_experiment_filter_parses_like_mlflow(text: str) -> None:
    assert _ours(text, EXPERIMENTS) == _mlflow_experiments_filter(text)


@pytest.mark.parametrize("text", INVALID_EXPERIMENT_FILTERS)
def test_invalid_experiment_filter_is_rejected_like_mlflow(text: str) -> None:
    assert _mlflow_rejects(_mlflow_experiments_filter, text)
    with pytest.raises(InvalidInput):
        parse_filter(text, EXPERIMENTS)


@pytest.mark.parametrize(
    "text",
    [
        "name",
        "name DESC",
        "creation_time desc",
        "last_update_time",
        "experiment_id ASC",
        "attribute.name",
        "`name` DESC",
        '"name"',
    ],
)
def test_valid_experiment_order_parses_like_mlflow(text: str) -> None:
    assert _ours_order(text, EXPERIMENTS) == _mlflow_experiments_order(text)


@pytest.mark.parametrize(
    "text", ["attributes.name", "tags.x", "tag.x", "lifecycle_stage", "metrics.x", "name UP"]
)
def test_invalid_experiment_order_is_rejected_like_mlflow(text: str) -> None:
    assert _mlflow_rejects(_mlflow_experiments_order, text)
    with pytest.raises(InvalidInput):
        parse_order_by([text], EXPERIMENTS)
