"""log_metric and log_batch in one round trip, authentication included (PostgreSQL): they
store what the usual way stores, and where the usual way would refuse the call (or write
anything else, such as an API key's last use, or find points stored already) they store
nothing and say so: the caller then goes the usual way, which answers with the error."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from experiments.choices import ContainerState, LifecycleStage, Role
from experiments.models import (
    ApiKey,
    LatestMetric,
    MetricChunk,
    MetricHistory,
    MetricRollup,
    ResourceGroup,
    Run,
    TrackingToken,
    Workspace,
)
from experiments.selectors.access import Credential
from experiments.services.access import (
    api_key_create,
    api_key_revoke,
    secret_hash,
    tracking_token_create,
)
from experiments.services.runs import (
    _LOG_POINTS,
    MetricPoint,
    MetricPoints,
    run_hold_for_ingest,
    run_log_batch,
    run_log_batch_at_once,
    run_log_metric_at_once,
)
from tests.factories import grant, make_experiment, make_run, make_user, make_workspace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

T0 = 1_700_000_000_000


def _key(user: Any, *, used: bool = True) -> Credential:
    """An API key of `user`, used a moment ago (as after the usual way's first call) or not."""
    key, secret = api_key_create(user=user, name="tests")
    if used:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return Credential(secret)


def _token(user: Any, workspace: Workspace) -> Credential:
    _row, secret = tracking_token_create(user=user, workspace=workspace)
    return Credential(secret)


def _granted(role: Role, **where: Any) -> Any:
    user = make_user()
    grant(user, role, **where)
    return user


def _contributor(workspace: Workspace) -> Credential:
    return _key(_granted(Role.CONTRIBUTOR, workspace=workspace))


def _log(
    credential: Credential,
    workspace: Workspace,
    run: Run,
    point: MetricPoint,
    *,
    grouped: bool = True,
) -> bool:
    return run_log_metric_at_once(
        credential=credential,
        name=workspace.name,
        group_name=workspace.resource_group.name if grouped else None,
        run_uuid=run.uuid,
        point=point,
    )


def _stored(run: Run) -> dict[str, list[tuple[Any, ...]]]:
    """Everything ingest keeps for a run, without the run's id."""
    rollup_fields = [
        field.attname for field in MetricRollup._meta.concrete_fields if field.attname != "run_id"
    ]
    return {
        "history": sorted(
            MetricHistory.objects.filter(run_id=run.pk).values_list(
                "key", "timestamp", "step", "value", "is_nan"
            )
        ),
        "latest": sorted(
            LatestMetric.objects.filter(run=run).values_list(
                "key", "timestamp", "step", "value", "is_nan"
            )
        ),
        "rollups": sorted(
            MetricRollup.objects.filter(run_id=run.pk).values_list(*rollup_fields),
        ),
    }


POINTS = [
    MetricPoint("loss", 0.5, T0, 0),
    MetricPoint("loss", 0.25, T0 + 1, 1),
    MetricPoint("loss", 0.25, T0 + 1, 1),  # a replay: stored once, counted once
    MetricPoint("loss", 0.75, T0 + 2, 0),  # an older step: history, not the latest value
    MetricPoint("loss", math.nan, T0 + 3, 2),  # NaN: no rollups
    MetricPoint("loss", math.inf, T0 + 4, 3),
    MetricPoint("acc", -1e300, T0, 40),
    MetricPoint("acc", 3.0, T0 + 5, 2**40),
    # Negative steps: buckets are step >> level, rounded down, in SQL as in Python.
    MetricPoint("acc", 2.0, T0 + 6, -1),
    MetricPoint("acc", 1.0, T0 + 7, -33),
    MetricPoint("acc", -math.inf, T0 + 8, -(2**63)),
]


def test_it_stores_what_log_batch_stores_one_point_at_a_time(workspace: Workspace) -> None:
    credential = _contributor(workspace)
    experiment = make_experiment(workspace)
    at_once, usual = make_run(experiment), make_run(experiment)
    for point in POINTS:
        assert _log(credential, workspace, at_once, point)
        run_log_batch(run=Run.objects.get(pk=usual.pk), metrics=[point])
    stored = _stored(at_once)
    assert stored == _stored(usual)
    assert len(stored["history"]) == len(POINTS) - 1
    assert sum(row[3] for row in stored["rollups"] if row[1] == 5) == len(POINTS) - 2  # count


def test_a_point_stored_in_a_chunk_is_not_stored_again(workspace: Workspace) -> None:
    run = make_run(make_experiment(workspace))
    batch = [MetricPoint("loss", step / 7, T0 + step, step) for step in range(1000)]
    run_log_batch(run=run, metrics=batch)
    assert MetricChunk.objects.filter(run=run).count() == 1
    before = _stored(run)
    assert _log(_contributor(workspace), workspace, run, batch[500])
    assert _stored(run) == before


def _behind_a_writer(
    workspace: Workspace, run: Run, stored: list[MetricPoint], call: Callable[[], bool]
) -> bool:
    """call()'s result, started while another connection holds the run and stores `stored`,
    which it commits once the call has waited for it half a second."""
    holding, release = threading.Event(), threading.Event()
    results: list[bool] = []
    errors: list[BaseException] = []

    def in_thread(work: Callable[[], None]) -> threading.Thread:
        def run_work() -> None:
            try:
                work()
            except BaseException as error:  # reported below
                errors.append(error)
            finally:
                connections.close_all()

        return threading.Thread(target=run_work)

    @in_thread
    def writer() -> None:
        with transaction.atomic():
            held = run_hold_for_ingest(workspace=workspace, run_id=run.uuid)
            run_log_batch(run=held, metrics=stored)
            holding.set()
            release.wait(timeout=30)

    @in_thread
    def caller() -> None:
        results.append(call())

    writer.start()
    assert holding.wait(timeout=30)
    caller.start()
    time.sleep(0.5)
    assert caller.is_alive(), "the call did not wait for the run"
    release.set()
    for thread in (writer, caller):
        thread.join(timeout=30)
    assert errors == []
    (result,) = results
    return result


def test_it_waits_for_the_writer_holding_the_run_and_sees_what_it_stored(
    workspace: Workspace,
) -> None:
    """The point goes into a chunk that another writer stores while this call waits for the
    run: the write must read what that writer committed (a statement that holds and writes at
    once would not, and would store the point a second time)."""
    credential = _contributor(workspace)
    run = make_run(make_experiment(workspace))
    batch = [MetricPoint("loss", step / 7, T0 + step, step) for step in range(1000)]
    assert _behind_a_writer(
        workspace, run, batch, lambda: _log(credential, workspace, run, batch[500])
    )
    stored = _stored(run)
    assert len(stored["history"]) == 1000
    assert sum(row[3] for row in stored["rollups"] if row[1] == 5) == 1000


def test_a_call_inside_a_longer_transaction_never_writes_to_an_earlier_calls_run(
    workspace: Workspace,
) -> None:
    """The first statement passes the run it held to the second in a setting that lasts
    until the transaction ends: a later call that holds nothing must not find it there."""
    credential = _contributor(workspace)
    run = make_run(make_experiment(workspace))
    with transaction.atomic():
        assert _log(credential, workspace, run, MetricPoint("loss", 1.0, T0, 0))
        assert not run_log_metric_at_once(
            credential=credential,
            name=workspace.name,
            group_name=None,
            run_uuid="0" * 32,
            point=MetricPoint("loss", 2.0, T0, 1),
        )
    assert list(MetricHistory.objects.values_list("step", flat=True)) == [0]


def _deleting(model: type[Workspace] | type[ResourceGroup], pk: int) -> None:
    model.objects.filter(pk=pk).update(state=ContainerState.DELETING)


def _deleted(run: Run) -> None:
    Run.objects.filter(pk=run.pk).update(lifecycle_stage=LifecycleStage.DELETED)


def _username(credential: Credential) -> str:
    return ApiKey.objects.get(key_hash=secret_hash(credential.secret)).user.username


def _basic(credential: Credential, username: str) -> Credential:
    return Credential(credential.secret, username)


def _revoked_key(workspace: Workspace) -> Credential:
    credential = _contributor(workspace)
    api_key_revoke(api_key=ApiKey.objects.get(key_hash=secret_hash(credential.secret)))
    return credential


def _token_of_revoked_key(workspace: Workspace) -> Credential:
    user = _granted(Role.CONTRIBUTOR, workspace=workspace)
    key, _secret = api_key_create(user=user, name="tests")
    _row, secret = tracking_token_create(user=user, workspace=workspace, api_key=key)
    # The key alone: the token dies with it.
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    return Credential(secret)


def _expired_token(workspace: Workspace) -> Credential:
    credential = _token(_granted(Role.CONTRIBUTOR, workspace=workspace), workspace)
    TrackingToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    return credential


def _inactive_owner(workspace: Workspace) -> Credential:
    user = _granted(Role.OWNER, workspace=workspace)
    credential = _key(user)
    user.is_active = False
    user.save()
    return credential


def _sibling(workspace: Workspace) -> Workspace:
    return make_workspace(group=workspace.resource_group)


# What each case changes (given the workspace and its run) and the call's arguments it sets.
REFUSED: dict[str, Callable[[Workspace, Run], dict[str, Any] | None]] = {
    "an unknown secret": lambda ws, run: {"credential": Credential("ptk_unknown")},
    "a revoked API key": lambda ws, run: {"credential": _revoked_key(ws)},
    "an API key not used in the last minute (its use is written)": lambda ws, run: {
        "credential": _key(_granted(Role.OWNER, workspace=ws), used=False)
    },
    "an expired tracking token": lambda ws, run: {"credential": _expired_token(ws)},
    "a tracking token of a revoked API key": lambda ws, run: {
        "credential": _token_of_revoked_key(ws)
    },
    "Basic naming another user": lambda ws, run: {
        "credential": _basic(_contributor(ws), "someone-else")
    },
    "no role": lambda ws, run: {"credential": _key(make_user())},
    "a reader": lambda ws, run: {"credential": _key(_granted(Role.READER, workspace=ws))},
    "a reader of the group": lambda ws, run: {
        "credential": _key(_granted(Role.READER, group=ws.resource_group))
    },
    "an inactive owner": lambda ws, run: {"credential": _inactive_owner(ws)},
    "a tracking token of another workspace": lambda ws, run: {
        "credential": _token(_granted(Role.OWNER, group=ws.resource_group), _sibling(ws))
    },
    "a workspace being deleted": lambda ws, run: _deleting(Workspace, ws.pk),
    "a group being deleted": lambda ws, run: _deleting(ResourceGroup, ws.resource_group_id),
    "a deleted run": lambda ws, run: _deleted(run),
    "an unknown run": lambda ws, run: {"run_uuid": "0" * 32},
    "a run of another workspace": lambda ws, run: {
        "run_uuid": make_run(make_experiment(make_workspace())).uuid
    },
    "an unknown workspace": lambda ws, run: {"name": "nowhere"},
    "the workspace under another group": lambda ws, run: {
        "group_name": make_workspace().resource_group.name
    },
    "a point of an unknown logged model": lambda ws, run: {
        "point": MetricPoint("loss", 1.0, T0, 0, model_id="m-0")
    },
    "a key the usual way refuses": lambda ws, run: {"point": MetricPoint("../loss", 1.0, T0, 0)},
    "a step past 64 bits": lambda ws, run: {"point": MetricPoint("loss", 1.0, T0, 2**63)},
    "a NUL in a Basic username": lambda ws, run: {
        "credential": _basic(_contributor(ws), "user\x00")
    },
}


def _refused_call(workspace: Workspace, case: str, **logged: Any) -> dict[str, Any]:
    """The arguments of a call logging `logged` to a new run of the workspace by a
    contributor, as REFUSED[case] changes them."""
    run = make_run(make_experiment(workspace))
    call: dict[str, Any] = {
        "credential": _contributor(workspace),
        "name": workspace.name,
        "group_name": workspace.resource_group.name,
        "run_uuid": run.uuid,
        **logged,
    }
    call.update(REFUSED[case](workspace, run) or {})
    return call


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_it_stores_nothing_where_the_usual_way_refuses(workspace: Workspace, case: str) -> None:
    call = _refused_call(workspace, case, point=MetricPoint("loss", 1.0, T0, 0))
    assert run_log_metric_at_once(**call) is False
    assert not MetricHistory.objects.exists()
    assert not LatestMetric.objects.exists()
    assert not MetricRollup.objects.exists()


def _both(workspace: Workspace) -> Any:
    user = _granted(Role.CONTRIBUTOR, group=workspace.resource_group)
    grant(user, Role.READER, workspace=workspace)
    return user


def _named(credential: Credential) -> Credential:
    return _basic(credential, _username(credential))


ALLOWED: dict[str, Callable[[Workspace], Credential]] = {
    "a contributor's API key": _contributor,
    "an owner of the group": lambda ws: _key(_granted(Role.OWNER, group=ws.resource_group)),
    "a contributor of the group, reader of the workspace": lambda ws: _key(_both(ws)),
    "a superuser without a role": lambda ws: _key(make_user(superuser=True)),
    "a tracking token of this workspace": lambda ws: _token(
        _granted(Role.CONTRIBUTOR, workspace=ws), ws
    ),
    "Basic naming the key's user": lambda ws: _named(_contributor(ws)),
}


@pytest.mark.parametrize("grouped", [True, False], ids=["tracking URI", "workspace header"])
@pytest.mark.parametrize("case", sorted(ALLOWED))
def test_it_stores_for_every_caller_the_usual_way_lets_write(
    workspace: Workspace, case: str, grouped: bool
) -> None:
    run = make_run(make_experiment(workspace))
    point = MetricPoint("loss", 1.0, T0, 7)
    assert _log(ALLOWED[case](workspace), workspace, run, point, grouped=grouped)
    assert list(MetricHistory.objects.values_list("run_id", "key", "step")) == [(run.pk, "loss", 7)]


def _columns(points: list[MetricPoint]) -> MetricPoints:
    return MetricPoints(
        [p.key for p in points],
        [p.value for p in points],
        [p.timestamp for p in points],
        [p.step for p in points],
    )


def _batch(steps: range, keys: int = 4) -> list[MetricPoint]:
    return [
        MetricPoint(f"k{key}", (step * 7 + key) % 11 / 3, T0 + step, step)
        for step in steps
        for key in range(keys)
    ]


def _log_batch(credential: Credential, workspace: Workspace, run: Run, points: list) -> bool:
    return run_log_batch_at_once(
        credential=credential,
        name=workspace.name,
        group_name=workspace.resource_group.name,
        run_uuid=run.uuid,
        metrics=_columns(points),
    )


def test_a_batch_is_stored_as_log_batch_stores_it(workspace: Workspace) -> None:
    credential = _contributor(workspace)
    experiment = make_experiment(workspace)
    at_once, usual = make_run(experiment), make_run(experiment)
    with_nan = _batch(range(250))
    with_nan[7] = with_nan[7]._replace(value=math.nan)
    for points in (with_nan, _batch(range(250, 500))):
        assert _log_batch(credential, workspace, at_once, points)
        run_log_batch(run=Run.objects.get(pk=usual.pk), metrics=points)
    assert _stored(at_once) == _stored(usual)
    assert MetricChunk.objects.filter(run=at_once).count() == 8
    assert len(_stored(at_once)["history"]) == 2000


def _one_step(step: int, keys: list[str]) -> list[MetricPoint]:
    """What mlflow.log_metrics sends: one point per key."""
    return [MetricPoint(key, step / (index + 2), T0 + step, step) for index, key in enumerate(keys)]


def test_a_batch_of_distinct_keys_is_stored_as_log_batch_stores_it(workspace: Workspace) -> None:
    credential = _contributor(workspace)
    experiment = make_experiment(workspace)
    at_once, usual = make_run(experiment), make_run(experiment)
    chunked = [MetricPoint("loss", step / 7, T0 + step, step) for step in range(1000)]
    keys = ["loss", "acc", "lr", "grad/norm"]
    batches = [
        chunked,
        _one_step(1000, keys),
        _one_step(1000, keys),  # a replay: stored once
        [chunked[3], *_one_step(3, keys[1:])],  # older steps; loss@3 is in the chunk
        [*_one_step(2000, keys[1:]), MetricPoint("loss", math.nan, T0, 2000)],
        [MetricPoint("acc", math.inf, T0, -(2**63)), MetricPoint("lr", -math.inf, T0, -1)],
        _one_step(5, [f"k{index}" for index in range(1000)]),
    ]
    for points in batches:
        assert _log_batch(credential, workspace, at_once, points)
        run_log_batch(run=Run.objects.get(pk=usual.pk), metrics=points)
    stored = _stored(at_once)
    assert stored == _stored(usual)
    assert MetricChunk.objects.filter(run=at_once).count() == 1
    assert len(stored["history"]) == 1000 + 4 + 3 + 4 + 2 + 1000
    assert sum(row[3] for row in stored["rollups"] if row[1] == 5) == len(stored["history"]) - 1


def test_the_writes_run_their_generic_plans(workspace: Workspace) -> None:
    """For the unnest of a few points (estimated at 100 rows) PostgreSQL would plan the write
    afresh on every call, which costs more than running it: the first statement of the
    message sets plan_cache_mode for the rest of the transaction."""
    if not settings.DB_PREPARED_STATEMENTS:
        pytest.skip("statements are not prepared (DB_PREPARED_STATEMENTS=false)")
    credential = _contributor(workspace)
    run = make_run(make_experiment(workspace))
    for step in range(8):
        assert _log_batch(credential, workspace, run, _one_step(step, ["a", "b", "c"]))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = %s",
            [_LOG_POINTS.name],
        )
        assert cursor.fetchone() == (8, 0)


# Batches the one round trip leaves to the usual way (given a run holding steps 0-249 of
# keys k0-k3; a log-batch holds at most 1,000 metrics).
DECLINED: dict[str, list[MetricPoint]] = {
    "point rows of repeated keys": _batch(range(250, 260)),
    "a step twice in a key": [*_batch(range(250, 499)), MetricPoint("k0", 1.0, T0, 250)],
    "a replay": _batch(range(250)),
    "an overlap": _batch(range(200, 450)),
    "a key the usual way refuses": [*_batch(range(250, 499)), MetricPoint("../k", 1.0, T0, 0)],
    "more than 1,000 points": _batch(range(250, 501)),
    "none": [],
}


@pytest.mark.parametrize("case", sorted(DECLINED))
def test_it_leaves_other_batches_to_the_usual_way(workspace: Workspace, case: str) -> None:
    credential = _contributor(workspace)
    run = make_run(make_experiment(workspace))
    run_log_batch(run=run, metrics=_batch(range(250)))
    before = _stored(run)
    assert not _log_batch(credential, workspace, run, DECLINED[case])
    assert _stored(run) == before


# The cases of REFUSED about the point rather than the caller, the workspace or the run.
POINT_CASES = {
    "a point of an unknown logged model",
    "a key the usual way refuses",
    "a step past 64 bits",
}


@pytest.mark.parametrize("case", sorted(set(REFUSED) - POINT_CASES))
def test_a_batch_stores_nothing_where_the_usual_way_refuses(
    workspace: Workspace, case: str
) -> None:
    call = _refused_call(workspace, case, metrics=_columns(_batch(range(250))))
    assert run_log_batch_at_once(**call) is False
    assert not MetricChunk.objects.exists()
    assert not LatestMetric.objects.exists()
    assert not MetricRollup.objects.exists()


def test_a_batch_waits_for_the_writer_holding_the_run_and_sees_what_it_stored(
    workspace: Workspace,
) -> None:
    """The other writer stores steps 0-249 while this batch (steps 200-449) waits for the run:
    the batch must see them and leave itself to the usual way, not store 200-249 twice."""
    credential = _contributor(workspace)
    run = make_run(make_experiment(workspace))
    overlapping = _batch(range(200, 450))
    assert not _behind_a_writer(
        workspace,
        run,
        _batch(range(250)),
        lambda: _log_batch(credential, workspace, run, overlapping),
    )
    assert len(_stored(run)["history"]) == 1000
