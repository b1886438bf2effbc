from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction

from experiments.choices import LifecycleStage
from experiments.clock import now_ms
from experiments.errors import AlreadyExists, InvalidInput, NotFound
from experiments.models import Experiment, ExperimentTag, Run, Workspace
from experiments.services.deletion import purge_blocks_restore
from experiments.validation import (
    MAX_EXPERIMENT_TAG_VAL_LENGTH,
    validate_experiment_name,
    validate_key,
    validate_length,
)


def _validate_experiment_tag(key: str, value: str) -> None:
    validate_key(key)
    validate_length("value", value, MAX_EXPERIMENT_TAG_VAL_LENGTH)


def _require_active(experiment: Experiment) -> None:
    if not experiment.is_active:
        raise InvalidInput(
            f"The experiment {experiment.wire_id} must be in the 'active' state. "
            f"Current state is {experiment.lifecycle_stage}."
        )


def experiment_create(
    *, workspace: Workspace, name: str, tags: Sequence[tuple[str, str]] = ()
) -> Experiment:
    validate_experiment_name(name)
    for key, value in tags:
        _validate_experiment_tag(key, value)
    created = now_ms()
    try:
        with transaction.atomic():
            experiment = Experiment.objects.create(
                workspace=workspace, name=name, creation_time=created, last_update_time=created
            )
            ExperimentTag.objects.bulk_create(
                ExperimentTag(experiment=experiment, key=key, value=value)
                for key, value in dict(tags).items()
            )
    except IntegrityError:
        existing = Experiment.objects.filter(workspace=workspace, name=name).first()
        if existing is not None and not existing.is_active:
            raise AlreadyExists(
                f"Experiment '{name}' already exists in deleted state. "
                "You can restore the experiment, or permanently delete it first."
            ) from None
        raise AlreadyExists(f"Experiment(name={name}) already exists.") from None
    return experiment


def experiment_rename(*, experiment: Experiment, new_name: str) -> None:
    validate_experiment_name(new_name)
    if not experiment.is_active:
        raise InvalidInput("Cannot rename a non-active experiment.")
    try:
        with transaction.atomic():
            Experiment.objects.filter(pk=experiment.pk).update(
                name=new_name, last_update_time=now_ms()
            )
    except IntegrityError:
        raise AlreadyExists(f"Experiment(name={new_name}) already exists.") from None
    experiment.name = new_name


def _set_lifecycle(experiment: Experiment, stage: LifecycleStage) -> None:
    now = now_ms()
    with transaction.atomic():
        Experiment.objects.filter(pk=experiment.pk).update(
            lifecycle_stage=stage, last_update_time=now
        )
        # MLflow moves the experiment's runs along with it.
        Run.objects.filter(experiment=experiment).update(
            lifecycle_stage=stage,
            deleted_time=now if stage == LifecycleStage.DELETED else None,
        )
    experiment.lifecycle_stage = stage
    experiment.last_update_time = now


def experiment_delete(*, experiment: Experiment) -> None:
    if not experiment.is_active:
        raise NotFound(f"No Experiment with id={experiment.wire_id} exists")
    _set_lifecycle(experiment, LifecycleStage.DELETED)


def experiment_restore(*, experiment: Experiment) -> None:
    if experiment.is_active:
        raise NotFound(f"No Experiment with id={experiment.wire_id} exists")
    purge_blocks_restore(
        workspace_id=experiment.workspace_id,
        deleted_at_ms=experiment.last_update_time,
        what=f"Experiment {experiment.wire_id}",
    )
    _set_lifecycle(experiment, LifecycleStage.ACTIVE)


def experiment_set_tag(*, experiment: Experiment, key: str, value: str) -> None:
    _validate_experiment_tag(key, value)
    _require_active(experiment)
    # As in MLflow, a tag leaves last_update_time (search_experiments filters and sorts by it).
    ExperimentTag.objects.bulk_create(
        [ExperimentTag(experiment=experiment, key=key, value=value)],
        update_conflicts=True,
        unique_fields=["experiment", "key"],
        update_fields=["value"],
    )


def experiment_delete_tag(*, experiment: Experiment, key: str) -> None:
    _require_active(experiment)
    deleted, _ = ExperimentTag.objects.filter(experiment=experiment, key=key).delete()
    if not deleted:
        raise NotFound(f"No tag with name: {key} in experiment with id {experiment.wire_id}")
