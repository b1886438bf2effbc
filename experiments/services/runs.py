from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest

from experiments.choices import LifecycleStage, RunStatus
from experiments.clock import now_ms
from experiments.errors import InvalidInput, NotFound
from experiments.models import (
    Dataset,
    Experiment,
    InputTag,
    LoggedModel,
    LoggedModelMetric,
    Param,
    Run,
    RunInput,
    RunModelInput,
    RunModelOutput,
    RunTag,
    Workspace,
)
from experiments.names import random_run_name
from experiments.prepared import PreparedStatement
from experiments.selectors.access import WRITABLE_RUN_SQL, Credential, writable_run_params
from experiments.services.deletion import purge_blocks_restore
from experiments.services.metrics import (
    MetricColumns,
    MetricRow,
    chunked,
    chunks_params,
    chunks_statement,
    metrics_insert,
    points_params,
    points_statement,
)
from experiments.validation import (
    INT64_MAX,
    INT64_MIN,
    MAX_DATASET_DIGEST_SIZE,
    MAX_DATASET_NAME_SIZE,
    MAX_DATASET_PROFILE_SIZE,
    MAX_DATASET_SCHEMA_SIZE,
    MAX_DATASET_SOURCE_SIZE,
    MAX_DATASET_SOURCE_TYPE_SIZE,
    MAX_INPUT_TAG_KEY_SIZE,
    MAX_INPUT_TAG_VALUE_SIZE,
    MAX_MODEL_ID_LENGTH,
    MAX_PARAM_VAL_LENGTH,
    MAX_TAG_VAL_LENGTH,
    MAX_USER_ID_LENGTH,
    invalid_value,
    param_change_refused,
    validate_batch_limits,
    validate_key,
    validate_length,
)

RUN_NAME_TAG = "mlflow.runName"


class MetricPoint(NamedTuple):
    key: str
    value: float
    timestamp: int
    step: int = 0
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True)
class MetricPoints:
    """Plain metric points (no model or dataset) column by column, as log-batch reads them."""

    keys: list[str]
    values: list[float]
    timestamps: list[int]
    steps: list[int]

    def __len__(self) -> int:
        return len(self.keys)

    def points(self) -> list[MetricPoint]:
        return list(map(MetricPoint, self.keys, self.values, self.timestamps, self.steps))


class DatasetSpec(NamedTuple):
    name: str
    digest: str
    source_type: str
    source: str
    schema: str = ""
    profile: str = ""
    tags: Sequence[tuple[str, str]] = ()


def _require_active(run: Run) -> None:
    if run.lifecycle_stage != LifecycleStage.ACTIVE:
        raise InvalidInput(
            f"The run {run.uuid} must be in the 'active' state. "
            f"Current state is {run.lifecycle_stage}."
        )


def _truncate(value: str, limit: int) -> str:
    # MLflow truncates over-long param and tag values rather than failing the training script.
    return value if len(value) <= limit else value[:limit]


def _checked_tags(tags: Sequence[tuple[str, str]], path: str = "tags") -> dict[str, str]:
    """Validated tags, last value winning for a repeated key (as MLflow does)."""
    checked: dict[str, str] = {}
    for index, (key, value) in enumerate(tags):
        validate_key(key, f"{path}[{index}].key")
        checked[key] = _truncate(value, MAX_TAG_VAL_LENGTH)
    return checked


def run_create(
    *,
    experiment: Experiment,
    user_id: str = "",
    start_time: int | None = None,
    run_name: str = "",
    tags: Sequence[tuple[str, str]] = (),
) -> Run:
    if not experiment.is_active:
        raise InvalidInput(
            f"The experiment {experiment.wire_id} must be in the 'active' state. "
            f"Current state is {experiment.lifecycle_stage}."
        )
    checked = _checked_tags(tags)
    validate_length("user_id", user_id, MAX_USER_ID_LENGTH)
    name_tag = checked.get(RUN_NAME_TAG)
    if run_name and name_tag and run_name != name_tag:
        raise InvalidInput(
            "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
            f"different values (run_name='{run_name}', mlflow.runName='{name_tag}')."
        )
    name = _truncate(run_name or name_tag or random_run_name(), MAX_TAG_VAL_LENGTH)
    checked[RUN_NAME_TAG] = name
    run_uuid = uuid.uuid4().hex
    with transaction.atomic():
        run = Run.objects.create(
            uuid=run_uuid,
            experiment=experiment,
            workspace_id=experiment.workspace_id,
            name=name,
            user_id=user_id,
            status=RunStatus.RUNNING,
            start_time=now_ms() if start_time is None else _int64("start_time", start_time),
            artifact_uri=f"mlflow-artifacts:/{experiment.wire_id}/{run_uuid}/artifacts",
        )
        RunTag.objects.bulk_create(
            RunTag(run=run, key=key, value=value) for key, value in checked.items()
        )
        # The newest start time, even when a client backdates a run (start_time is its input).
        started = Value(run.start_time)
        Experiment.objects.filter(pk=experiment.pk).update(
            last_run_time=Greatest(Coalesce(F("last_run_time"), started), started)
        )
    run.experiment = experiment
    return run


def _int64(path: str, value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise InvalidInput(invalid_value(path, value, "Value out of range for a 64-bit integer."))
    return value


def run_update(
    *,
    run: Run,
    status: RunStatus | None = None,
    end_time: int | None = None,
    run_name: str | None = None,
) -> Run:
    _require_active(run)
    fields: list[str] = []
    if status is not None:
        run.status = status
        fields.append("status")
    if end_time is not None:
        run.end_time = _int64("end_time", end_time)
        fields.append("end_time")
    with transaction.atomic():
        if run_name:
            _set_run_name(run, _truncate(run_name, MAX_TAG_VAL_LENGTH))
        if fields:
            run.save(update_fields=fields)
    return run


def _set_run_name(run: Run, name: str) -> None:
    run.name = name
    Run.objects.filter(pk=run.pk).update(name=name)
    RunTag.objects.bulk_create(
        [RunTag(run=run, key=RUN_NAME_TAG, value=name)],
        update_conflicts=True,
        unique_fields=["run", "key"],
        update_fields=["value"],
    )


def run_delete(*, run: Run) -> None:
    run.lifecycle_stage = LifecycleStage.DELETED
    run.deleted_time = now_ms()
    run.save(update_fields=["lifecycle_stage", "deleted_time"])


def run_restore(*, run: Run) -> None:
    purge_blocks_restore(
        workspace_id=run.workspace_id, deleted_at_ms=run.deleted_time, what=f"Run {run.uuid}"
    )
    run.lifecycle_stage = LifecycleStage.ACTIVE
    run.deleted_time = None
    run.save(update_fields=["lifecycle_stage", "deleted_time"])


def _metric_rows(metrics: Sequence[MetricPoint], *, single: bool = False) -> list[MetricRow]:
    """Validated storage rows. Keys repeat within a batch, so each distinct key is checked once.
    `single`: the point came through log-metric, whose messages name fields without the
    batch's "metrics[i]." (and the key "name", as MLflow does)."""
    rows: list[MetricRow] = []
    seen_keys: set[str] = set()
    for index, (key, value, timestamp, step, *_rest) in enumerate(metrics):
        path = "" if single else f"metrics[{index}]"
        if key not in seen_keys:
            validate_key(key, f"{path}.name" if path else "name", "Metric name")
            seen_keys.add(key)
        if not INT64_MIN <= step <= INT64_MAX:
            raise InvalidInput(
                invalid_value(
                    f"{path}.step" if path else "step",
                    step,
                    f"metric '{key}' (value={value}). Step must be a valid long (64-bit integer).",
                )
            )
        if not 0 <= timestamp <= INT64_MAX:
            raise InvalidInput(
                invalid_value(
                    f"{path}.timestamp" if path else "timestamp",
                    timestamp,
                    f"metric '{key}' (value={value}). Timestamp must be a nonnegative long "
                    "(64-bit integer) ",
                )
            )
        if value != value:  # NaN
            rows.append(MetricRow(key, timestamp, step, 0.0, True))
        else:
            rows.append(MetricRow(key, timestamp, step, value, False))
    return rows


def _checked_columns(metrics: MetricPoints) -> MetricColumns:
    """_metric_rows for points given column by column: each check runs over a whole column,
    and anything it refuses goes through _metric_rows for the error message."""
    keys, timestamps, steps = metrics.keys, metrics.timestamps, metrics.steps
    try:
        for key in set(keys):
            validate_key(key)
    except InvalidInput:
        _metric_rows(metrics.points())
        raise
    if not (
        min(steps) >= INT64_MIN
        and max(steps) <= INT64_MAX
        and min(timestamps) >= 0
        and max(timestamps) <= INT64_MAX
    ):
        _metric_rows(metrics.points())
    values = metrics.values
    total = sum(values)
    if total == total:  # no NaN (an infinity minus an infinity would also say NaN)
        return MetricColumns(keys, timestamps, steps, values, [False] * len(keys))
    nans = [value != value for value in values]
    values = [0.0 if nan else value for value, nan in zip(values, nans, strict=True)]
    return MetricColumns(keys, timestamps, steps, values, nans)


def _model_metric_objects(run: Run, metrics: Sequence[MetricPoint]) -> list[LoggedModelMetric]:
    model_ids = {m.model_id for m in metrics if m.model_id}
    if not model_ids:
        return []
    for index, metric in enumerate(metrics):
        validate_length(
            f"metrics[{index}].dataset_name", metric.dataset_name or "", MAX_DATASET_NAME_SIZE
        )
        validate_length(
            f"metrics[{index}].dataset_digest", metric.dataset_digest or "", MAX_DATASET_DIGEST_SIZE
        )
    models = {
        model.model_id: model
        for model in LoggedModel.objects.filter(
            workspace_id=run.workspace_id, model_id__in=model_ids
        )
    }
    if missing := model_ids - models.keys():
        raise NotFound(f"Logged model with ID '{sorted(missing)[0]}' not found.")
    return [
        LoggedModelMetric(
            model=models[m.model_id],
            run=run,
            key=m.key,
            timestamp=m.timestamp,
            step=m.step,
            value=0.0 if math.isnan(m.value) else m.value,
            is_nan=math.isnan(m.value),
            dataset_name=m.dataset_name or "",
            dataset_digest=m.dataset_digest or "",
        )
        for m in metrics
        if m.model_id
    ]


def _insert_params(run: Run, params: dict[str, str], *, single: bool) -> None:
    Param.objects.bulk_create(
        (Param(run=run, key=key, value=value) for key, value in params.items()),
        ignore_conflicts=True,
    )
    stored = dict(Param.objects.filter(run=run, key__in=list(params)).values_list("key", "value"))
    changed = [
        {"key": key, "old_value": stored[key], "new_value": value}
        for key, value in params.items()
        if stored.get(key) != value
    ]
    if changed and single:
        change = changed[0]
        raise param_change_refused(
            change["key"], change["old_value"], change["new_value"], f"run ID='{run.uuid}'"
        )
    if changed:
        raise InvalidInput(
            f"Changing param values is not allowed. Params were already logged='{changed}' "
            f"for run ID='{run.uuid}'."
        )


def _set_tags(run: Run, tags: dict[str, str]) -> None:
    if RUN_NAME_TAG in tags:
        _set_run_name(run, tags[RUN_NAME_TAG])
    RunTag.objects.bulk_create(
        (RunTag(run=run, key=key, value=value) for key, value in tags.items()),
        update_conflicts=True,
        unique_fields=["run", "key"],
        update_fields=["value"],
    )


_INGEST_LOCK = " FOR NO KEY UPDATE"


def run_lock_for_ingest(run: Run) -> None:
    """Hold the run row until the transaction ends, and check that it is still active.

    FOR NO KEY UPDATE makes a deletion (which locks the row FOR UPDATE) wait for this
    transaction, as metric history has no foreign-key constraint to do it (see Metric). It
    also makes writers of one run's metrics take turns: ingest decides that a batch is new
    (metrics_insert) from what is stored when it holds the run, and two replays of one batch
    must not both find it new. Call inside a transaction.
    """
    if run.held_for_ingest:
        _require_active(run)
        return
    lock = _INGEST_LOCK if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT lifecycle_stage FROM {Run._meta.db_table} WHERE id = %s{lock}", [run.pk]
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"Run with id={run.uuid} not found")
    run.lifecycle_stage = row[0]
    _require_active(run)


_RUN_FIELDS = tuple(field.attname for field in Run._meta.concrete_fields)
# runs_in(workspace).filter(uuid=run_id), written out: compiling it with the ORM cost more
# than running it, on every logging call. By locked (SQLite has no row locks).
_HELD_RUN = {
    locked: PreparedStatement(
        f"SELECT {', '.join(field.column for field in Run._meta.concrete_fields)} "
        f"FROM {Run._meta.db_table} WHERE uuid = %s AND workspace_id = %s"
        + (_INGEST_LOCK if locked else "")
    )
    for locked in (False, True)
}


def run_hold_for_ingest(*, workspace: Workspace, run_id: str) -> Run:
    """The run, read and held as run_lock_for_ingest holds it, in one query (a log-batch
    request pays for each round trip). Call inside the transaction that logs to it.

    The run's experiment is not loaded.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("run_hold_for_ingest needs a transaction to hold the run in.")
    statement = _HELD_RUN[connection.vendor == "postgresql"]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql(cursor), [run_id, workspace.pk])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"Run with id={run_id} not found")
    return run_held_for_ingest(workspace, row)


def run_held_for_ingest(workspace: Workspace, row: Sequence[Any]) -> Run:
    """The run of a row (its concrete fields in order) that this transaction holds as
    run_lock_for_ingest holds it (also selectors.access.workspace_with_role_and_run)."""
    run = Run.from_db(connection.alias, _RUN_FIELDS, row)
    run.workspace = workspace
    run.held_for_ingest = True
    return run


def run_log_batch(
    *,
    run: Run,
    metrics: Sequence[MetricPoint] | MetricPoints = (),
    params: Sequence[tuple[str, str]] = (),
    tags: Sequence[tuple[str, str]] = (),
    single: bool = False,
) -> None:
    """Log metrics, params and tags in one transaction: all of it is stored, or none.

    Safe to replay: identical metric points and params are stored once, tags are overwritten.
    `single`: one metric or param from log-metric or log-parameter, whose error messages differ
    from a batch's (MLflow's words: "name" rather than "metrics[0].name", "key" rather than
    "params[0].key", a changed param named alone).
    """
    validate_batch_limits(len(metrics), len(params), len(tags))
    _require_active(run)
    if isinstance(metrics, MetricPoints):
        rows: Sequence[MetricRow] | MetricColumns = _checked_columns(metrics) if metrics else []
        model_metrics = []
    else:
        rows = _metric_rows(metrics, single=single)
        model_metrics = _model_metric_objects(run, metrics)
    param_keys = Counter(key for key, _ in params)
    if duplicates := sorted(key for key, count in param_keys.items() if count > 1):
        raise InvalidInput(
            f"Duplicate parameter keys have been submitted: {duplicates}. Please ensure "
            "the request contains only one param value per param key."
        )
    checked_params: dict[str, str] = {}
    for index, (key, value) in enumerate(params):
        validate_key(key, "key" if single else f"params[{index}].key", "Param key")
        checked_params[key] = _truncate(value, MAX_PARAM_VAL_LENGTH)
    checked_tags = _checked_tags(tags)
    # No savepoint: nothing here recovers from a failed statement, and the MLflow endpoint
    # already runs this in a transaction (a savepoint would cost two more round trips).
    with transaction.atomic(savepoint=False):
        if rows:
            run_lock_for_ingest(run)
        if checked_params:
            _insert_params(run, checked_params, single=single)
        metrics_insert(run_pk=run.pk, rows=rows)
        if model_metrics:
            LoggedModelMetric.objects.bulk_create(model_metrics, ignore_conflicts=True)
        if checked_tags:
            _set_tags(run, checked_tags)


# run_log_metric_at_once's first statement: the run checked and held (WRITABLE_RUN_SQL), its
# id kept until the transaction ends in a setting of its own; '' where none was found, so that
# a call inside a longer transaction never finds an earlier call's run there. Until then too,
# prepared statements run their generic plans: for the unnest of a few points (estimated at 100
# rows) PostgreSQL would otherwise plan the write afresh on every call, which took longer than
# running it (1.15 against 0.55-0.59 ms in process, for one point).
_HELD_RUN_SETTING = "portal.held_run"
_HOLD_WRITABLE_RUN = PreparedStatement(
    f"WITH held AS MATERIALIZED ({WRITABLE_RUN_SQL}) SELECT set_config('{_HELD_RUN_SETTING}', "
    "coalesce((SELECT run_id::text FROM held), ''), true), "
    "set_config('plan_cache_mode', 'force_generic_plan', true)"
)
# Its second: the point, for the run the first statement held, if it held one.
_RUN_HELD_AT_ONCE = (
    "SELECT run_id FROM (SELECT nullif(current_setting("
    f"'{_HELD_RUN_SETTING}', true), '')::bigint AS run_id) AS held WHERE run_id IS NOT NULL"
)
_LOG_POINT = points_statement(_RUN_HELD_AT_ONCE, one=True)
_LOG_POINTS = points_statement(_RUN_HELD_AT_ONCE)
_LOG_CHUNKS = {
    with_rollups: chunks_statement(with_rollups=with_rollups, run_sql=_RUN_HELD_AT_ONCE)
    for with_rollups in (False, True)
}


def run_log_metric_at_once(
    *,
    credential: Credential,
    name: str,
    group_name: str | None,
    run_uuid: str,
    point: MetricPoint,
) -> bool:
    """Log one metric point to the run `run_uuid` of workspace `name` (in group `group_name`,
    when given) in one round trip, authentication included, if every check of the usual way
    passes (the caller's credential and role, the workspace, the run, the point); False,
    having stored nothing, where one does not or the point is not a plain one. The caller then
    goes the usual way, which says what is wrong. PostgreSQL only.

    The usual way takes six round trips: the credential, BEGIN, the workspace and the run
    held, the point, COMMIT. Here two statements go in one message, which PostgreSQL runs as
    one transaction: the first checks everything and holds the workspace and the run as the
    usual way holds them (waiting for another writer of the run), the second writes
    (points_statement) to the run the first held. Under READ COMMITTED each statement reads its
    own snapshot, so the second sees everything that writers who held the run before
    committed: the rule metrics_insert relies on. Logging a point twice stores it once, so a
    retry is safe.
    """
    # A point of a logged model is also stored for the model (run_log_batch).
    if connection.vendor != "postgresql" or point.model_id:
        return False
    try:
        (row,) = _metric_rows([point], single=True)
    except InvalidInput:
        return False
    return _write_at_once(credential, name, group_name, run_uuid, _LOG_POINT, list(row))


def run_log_batch_at_once(
    *,
    credential: Credential,
    name: str,
    group_name: str | None,
    run_uuid: str,
    metrics: MetricPoints,
) -> bool:
    """run_log_metric_at_once for a log-batch of plain metrics only (no params or tags) that
    is stored as chunks (services.metrics.chunked), or whose metrics have distinct keys (what
    mlflow.log_metrics sends for one step): False, having stored nothing, for any other
    batch, and for a chunked one whose points may be stored already (the usual way then
    stores each of them once)."""
    if connection.vendor != "postgresql" or not metrics:
        return False
    try:
        validate_batch_limits(len(metrics), 0, 0)
        columns = _checked_columns(metrics)
    except InvalidInput:
        return False
    batch = chunked(columns)
    if batch is None:
        if len(set(columns.keys)) < len(columns):
            return False
        params = points_params(columns)
        return _write_at_once(credential, name, group_name, run_uuid, _LOG_POINTS, params)
    chunks, rollups = batch
    statement = _LOG_CHUNKS[bool(rollups)]
    return _write_at_once(
        credential, name, group_name, run_uuid, statement, chunks_params(None, chunks, rollups)
    )


def _write_at_once(
    credential: Credential,
    name: str,
    group_name: str | None,
    run_uuid: str,
    write: PreparedStatement,
    write_params: list[object],
) -> bool:
    """Hold the run `run_uuid` of workspace `name` for `credential` and run `write` on it, in
    one message; whether `write` says it stored anything (see run_log_metric_at_once)."""
    texts = (name, group_name or "", run_uuid, credential.username or "")
    if any("\x00" in text for text in texts):
        return False  # PostgreSQL stores no NUL; the usual way refuses these
    params = writable_run_params(credential, name=name, group_name=group_name, run_uuid=run_uuid)
    with connection.cursor() as cursor:
        hold = _HOLD_WRITABLE_RUN.sql(cursor)
        cursor.execute(f"{hold}; {write.sql(cursor)}", [*params, *write_params])
        (stored,) = cursor.fetchone()
    return bool(stored)


def run_set_tag(*, run: Run, key: str, value: str) -> None:
    _require_active(run)
    validate_key(key)
    with transaction.atomic():
        _set_tags(run, {key: _truncate(value, MAX_TAG_VAL_LENGTH)})


def run_delete_tag(*, run: Run, key: str) -> None:
    _require_active(run)
    deleted, _ = RunTag.objects.filter(run=run, key=key).delete()
    if not deleted:
        raise NotFound(f"No tag with name: {key} in run with id {run.uuid}")


def _validate_dataset(spec: DatasetSpec, path: str) -> None:
    for field, limit in (
        ("name", MAX_DATASET_NAME_SIZE),
        ("digest", MAX_DATASET_DIGEST_SIZE),
        ("source_type", MAX_DATASET_SOURCE_TYPE_SIZE),
        ("source", MAX_DATASET_SOURCE_SIZE),
        ("schema", MAX_DATASET_SCHEMA_SIZE),
        ("profile", MAX_DATASET_PROFILE_SIZE),
    ):
        validate_length(f"{path}.{field}", getattr(spec, field), limit)
    for key, value in spec.tags:
        validate_length("key", key, MAX_INPUT_TAG_KEY_SIZE)
        validate_length("value", value, MAX_INPUT_TAG_VALUE_SIZE)


def run_log_inputs(
    *, run: Run, datasets: Sequence[DatasetSpec] = (), model_ids: Sequence[str] = ()
) -> None:
    """Record the datasets and models a run used. Logging the same input again changes nothing,
    its context and tags included: as in MLflow, the first one logged stays (within one call,
    the first of a name and digest)."""
    _require_active(run)
    for index, spec in enumerate(datasets):
        _validate_dataset(spec, f"datasets[{index}].dataset")
    for index, model_id in enumerate(model_ids):
        validate_length(f"models[{index}].model_id", model_id, MAX_MODEL_ID_LENGTH)
    first: dict[tuple[str, str], DatasetSpec] = {}
    for spec in datasets:
        first.setdefault((spec.name, spec.digest), spec)
    with transaction.atomic():
        for spec in first.values():
            dataset, _ = Dataset.objects.get_or_create(
                experiment_id=run.experiment_id,
                name=spec.name,
                digest=spec.digest,
                defaults={
                    "source_type": spec.source_type,
                    "source": spec.source,
                    "schema": spec.schema,
                    "profile": spec.profile,
                },
            )
            run_input, created = RunInput.objects.get_or_create(run=run, dataset=dataset)
            if created:
                InputTag.objects.bulk_create(
                    InputTag(run_input=run_input, key=k, value=v)
                    for k, v in dict(spec.tags).items()
                )
        RunModelInput.objects.bulk_create(
            (RunModelInput(run=run, model_id=model_id) for model_id in dict.fromkeys(model_ids)),
            ignore_conflicts=True,
        )


def run_log_outputs(*, run: Run, outputs: Sequence[tuple[str, int]]) -> None:
    """Record the logged models a run produced (model id, step)."""
    _require_active(run)
    model_ids = {model_id for model_id, _ in outputs}
    known = set(
        LoggedModel.objects.filter(
            workspace_id=run.workspace_id, model_id__in=model_ids
        ).values_list("model_id", flat=True)
    )
    if missing := model_ids - known:
        raise NotFound(f"Logged model with ID '{sorted(missing)[0]}' not found.")
    RunModelOutput.objects.bulk_create(
        (RunModelOutput(run=run, model_id=model_id, step=step) for model_id, step in outputs),
        ignore_conflicts=True,
    )
