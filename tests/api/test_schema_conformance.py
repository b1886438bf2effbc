"""The portal API against its own OpenAPI schema, with requests generated from that schema
(Schemathesis), sent over HTTP to a live server as an administrator with an API key.

Every answer must be one the schema documents (status, content type, body), no request may
cause a 5xx, and a request the schema rules out must be refused. Requests the schema allows but
a rule refuses (a confirmation name that does not match, a group that does not exist) are
expected, so the check that schema-valid requests are accepted is left out.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from experiments.services.audit import Actor
from experiments.services.deletion import deleted_objects_purge
from experiments.services.runs import run_delete
from tests.factories import make_api_key, make_group, make_rich_run, make_user, make_workspace

pytestmark = pytest.mark.django_db(transaction=True)

EXCLUDED = [positive_data_acceptance]
GENERATION = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def api_headers() -> dict[str, str]:
    """An administrator's API key, and something to find: a group, a workspace with runs (one
    of them deleted), and a purge job with its audit entries."""
    workspace = make_workspace("vision", make_group("team-a"))
    make_rich_run(workspace)
    run_delete(run=make_rich_run(workspace))
    deleted_objects_purge(group_name="team-a", workspace_name=workspace.name, actor=Actor.cli())
    return {"Authorization": f"Bearer {make_api_key(make_user('api-admin', superuser=True))}"}


# The schema as the portal serves it at /portal-api/v1/schema/ (the same generator).
portal_api = schemathesis.openapi.from_dict(
    SchemaGenerator(api_version="1").get_schema(public=True)
)


@portal_api.parametrize()
@GENERATION
def test_every_answer_is_one_the_schema_documents(
    case: schemathesis.Case, live_server: Any, api_headers: dict[str, str]
) -> None:
    case.call_and_validate(base_url=live_server.url, headers=api_headers, excluded_checks=EXCLUDED)
