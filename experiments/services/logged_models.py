from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.db import transaction

from experiments.choices import LifecycleStage, LoggedModelStatus
from experiments.clock import now_ms
from experiments.errors import InvalidInput, NotFound
from experiments.models import Experiment, LoggedModel, LoggedModelParam, LoggedModelTag
from experiments.names import random_run_name
from experiments.validation import (
    MAX_MODEL_TYPE_LENGTH,
    MAX_PARAM_VAL_LENGTH,
    MAX_RUN_ID_LENGTH,
    MAX_TAG_VAL_LENGTH,
    param_change_refused,
    validate_key,
    validate_length,
)

_BAD_NAME_CHARACTERS = ("/", ":", ".", "%", '"', "'")


def _validate_name(name: str) -> None:
    if not name or any(c in name for c in _BAD_NAME_CHARACTERS) or len(name) > 500:
        raise InvalidInput(
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string "
            f"and cannot contain the following characters: {_BAD_NAME_CHARACTERS}"
        )


def _checked(items: Sequence[tuple[str, str]], limit: int, path: str) -> dict[str, str]:
    checked = {}
    for index, (key, value) in enumerate(items):
        validate_key(key, f"{path}[{index}].key")
        checked[key] = value[:limit]
    return checked


def logged_model_create(
    *,
    experiment: Experiment,
    name: str | None = None,
    source_run_id: str = "",
    model_type: str = "",
    params: Sequence[tuple[str, str]] = (),
    tags: Sequence[tuple[str, str]] = (),
) -> LoggedModel:
    if name is not None:
        _validate_name(name)
    validate_length("source_run_id", source_run_id, MAX_RUN_ID_LENGTH)
    validate_length("model_type", model_type, MAX_MODEL_TYPE_LENGTH)
    if not experiment.is_active:
        raise InvalidInput(
            f"The experiment {experiment.wire_id} must be in the 'active' state. "
            f"Current state is {experiment.lifecycle_stage}."
        )
    checked_params = _checked(params, MAX_PARAM_VAL_LENGTH, "params")
    checked_tags = _checked(tags, MAX_TAG_VAL_LENGTH, "tags")
    model_id = f"m-{uuid.uuid4().hex}"
    created = now_ms()
    with transaction.atomic():
        model = LoggedModel.objects.create(
            model_id=model_id,
            experiment=experiment,
            workspace_id=experiment.workspace_id,
            name=name or random_run_name(),
            source_run_id=source_run_id,
            model_type=model_type,
            creation_timestamp_ms=created,
            last_updated_timestamp_ms=created,
            artifact_uri=f"mlflow-artifacts:/{experiment.wire_id}/models/{model_id}/artifacts",
        )
        LoggedModelParam.objects.bulk_create(
            LoggedModelParam(model=model, key=k, value=v) for k, v in checked_params.items()
        )
        LoggedModelTag.objects.bulk_create(
            LoggedModelTag(model=model, key=k, value=v) for k, v in checked_tags.items()
        )
    model.experiment = experiment
    return model


def _touch(model: LoggedModel) -> None:
    model.last_updated_timestamp_ms = now_ms()
    LoggedModel.objects.filter(pk=model.pk).update(
        last_updated_timestamp_ms=model.last_updated_timestamp_ms
    )


def logged_model_log_params(*, model: LoggedModel, params: Sequence[tuple[str, str]]) -> None:
    """A model's params, like a run's, are set once: the same value again is accepted (a
    retried request), a different one is refused and nothing of the request is stored."""
    checked = _checked(params, MAX_PARAM_VAL_LENGTH, "params")
    with transaction.atomic():
        LoggedModelParam.objects.bulk_create(
            (LoggedModelParam(model=model, key=k, value=v) for k, v in checked.items()),
            ignore_conflicts=True,
        )
        stored = dict(
            LoggedModelParam.objects.filter(model=model, key__in=list(checked)).values_list(
                "key", "value"
            )
        )
        for key, value in checked.items():
            if stored[key] != value:
                raise param_change_refused(key, stored[key], value, f"model ID='{model.model_id}'")
        _touch(model)


def logged_model_finalize(*, model: LoggedModel, status: LoggedModelStatus) -> LoggedModel:
    model.status = status
    model.last_updated_timestamp_ms = now_ms()
    model.save(update_fields=["status", "last_updated_timestamp_ms"])
    return model


def logged_model_delete(*, model: LoggedModel) -> None:
    model.lifecycle_stage = LifecycleStage.DELETED
    model.last_updated_timestamp_ms = now_ms()
    model.save(update_fields=["lifecycle_stage", "last_updated_timestamp_ms"])


def logged_model_set_tags(*, model: LoggedModel, tags: Sequence[tuple[str, str]]) -> None:
    checked = _checked(tags, MAX_TAG_VAL_LENGTH, "tags")
    with transaction.atomic():
        LoggedModelTag.objects.bulk_create(
            (LoggedModelTag(model=model, key=k, value=v) for k, v in checked.items()),
            update_conflicts=True,
            unique_fields=["model", "key"],
            update_fields=["value"],
        )
        _touch(model)


def logged_model_delete_tag(*, model: LoggedModel, key: str) -> None:
    deleted, _ = LoggedModelTag.objects.filter(model=model, key=key).delete()
    if not deleted:
        raise NotFound(f"No tag with key {key!r} found for model with ID {model.model_id!r}.")
