"""Statements prepared once per PostgreSQL connection (experiments/prepared.py)."""

from __future__ import annotations

import json

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from experiments.models import Workspace
from experiments.prepared import PreparedStatement
from experiments.tracking import tracking_uri
from tests.factories import make_experiment, make_run

ADD = PreparedStatement("SELECT %s::int + %s::int")


def _add(a: int, b: int) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        cursor.execute(ADD.sql(cursor), [a, b])
        (total,) = cursor.fetchone()
    return total, [query["sql"] for query in queries.captured_queries]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_statement_is_prepared_once_per_connection() -> None:
    connection.close()

    total, sent = _add(1, 2)
    assert total == 3
    assert sent[0].startswith(f"PREPARE {ADD.name} AS SELECT $1::int + $2::int")
    assert sent[1:] == [f"EXECUTE {ADD.name}(1, 2)"]

    total, sent = _add(40, 2)
    assert (total, sent) == (42, [f"EXECUTE {ADD.name}(40, 2)"])


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_again() -> None:
    assert _add(1, 1)[0] == 2
    connection.close()

    total, sent = _add(2, 2)

    assert total == 4
    assert sent[0].startswith(f"PREPARE {ADD.name}")


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_statement_prepared_in_a_rolled_back_transaction_stays_prepared() -> None:
    """PREPARE is not transactional: the bookkeeping relies on it."""
    connection.close()
    with transaction.atomic():
        assert _add(1, 2)[0] == 3
        transaction.set_rollback(True)

    total, sent = _add(3, 4)

    assert (total, sent) == (7, [f"EXECUTE {ADD.name}(3, 4)"])


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_without_prepared_statements_the_statement_is_sent_as_it_is(settings) -> None:  # noqa: ANN001
    settings.DB_PREPARED_STATEMENTS = False

    total, sent = _add(5, 6)

    assert total == 11
    assert sent == ["SELECT 5::int + 6::int"]


@pytest.mark.django_db
def test_logging_works_without_prepared_statements(
    settings,  # noqa: ANN001
    workspace: Workspace,
    api_key: str,
) -> None:
    """The setting for poolers in transaction mode: the write path runs its plain SQL."""
    settings.DB_PREPARED_STATEMENTS = False
    run = make_run(make_experiment(workspace))
    path = "/" + tracking_uri("http://testserver", workspace).split("/", 3)[3]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    body = {
        "run_id": run.uuid,
        "metrics": [{"key": "loss", "value": 0.5, "timestamp": 1, "step": 3}],
    }

    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            f"{path}/api/2.0/mlflow/runs/log-batch",
            data=json.dumps(body),
            content_type="application/json",
        )

    assert response.status_code == 200, response.content
    assert not any("PREPARE" in query["sql"] for query in queries.captured_queries)
    assert (run.latest_metrics.get().step, run.latest_metrics.get().value) == (3, 0.5)


@pytest.mark.parametrize("sql", ["SELECT 1; SELECT 2", "SELECT '100%%'"])
def test_only_single_statements_without_percent_signs_are_prepared(sql: str) -> None:
    with pytest.raises(ValueError, match="one statement"):
        PreparedStatement(sql)
