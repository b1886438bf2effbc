"""Domain objects as MLflow's JSON messages (snake_case, ids as strings, floats made JSON-safe)."""

from __future__ import annotations

import math
from typing import Any

from experiments.models import Experiment, LoggedModel, Run, Workspace
from experiments.selectors.runs import RunDetails

_INF = math.inf


def wire_float(value: float, is_nan: bool = False) -> float | str:
    """NaN and infinities travel as the strings protobuf's JSON mapping uses."""
    if is_nan or value != value:
        return "NaN"
    if value == _INF:
        return "Infinity"
    if value == -_INF:
        return "-Infinity"
    return value


def pairs(items: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in items]


def experiment_message(experiment: Experiment, tags: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "experiment_id": experiment.wire_id,
        "name": experiment.name,
        "artifact_location": experiment.artifact_location,
        "lifecycle_stage": experiment.lifecycle_stage,
        "last_update_time": experiment.last_update_time,
        "creation_time": experiment.creation_time,
        "tags": pairs(tags),
    }


def run_info_message(run: Run) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": run.uuid,
        "run_uuid": run.uuid,
        "run_name": run.name,
        "experiment_id": run.experiment.wire_id,
        "user_id": run.user_id,
        "status": run.status,
        "start_time": run.start_time,
        "artifact_uri": run.artifact_uri,
        "lifecycle_stage": run.lifecycle_stage,
    }
    if run.end_time is not None:
        info["end_time"] = run.end_time
    return info


def _non_empty(**fields: Any) -> dict[str, Any]:
    """Fields without the empty lists, as protobuf's JSON leaves out empty repeated fields: the
    client parses every field it is sent, and most runs have no inputs or outputs."""
    return {name: value for name, value in fields.items() if value}


def run_message(details: RunDetails) -> dict[str, Any]:
    message: dict[str, Any] = {
        "info": run_info_message(details.run),
        "data": _non_empty(
            metrics=[
                {
                    "key": metric.key,
                    "value": wire_float(metric.value, metric.is_nan),
                    "timestamp": metric.timestamp,
                    "step": metric.step,
                }
                for metric in details.metrics
            ],
            params=pairs(details.params),
            tags=pairs(details.tags),
        ),
    }
    # Left out when empty, as protobuf's JSON leaves out unset messages: the client reads a
    # missing one as empty, and each one it is sent costs it time (a thousand runs a page).
    if details.dataset_inputs or details.model_inputs:
        message["inputs"] = _non_empty(
            dataset_inputs=[
                {
                    "tags": pairs(item.tags),
                    "dataset": {
                        "name": item.name,
                        "digest": item.digest,
                        "source_type": item.source_type,
                        "source": item.source,
                        **({"schema": item.schema} if item.schema else {}),
                        **({"profile": item.profile} if item.profile else {}),
                    },
                }
                for item in details.dataset_inputs
            ],
            model_inputs=[{"model_id": model_id} for model_id in details.model_inputs],
        )
    if details.model_outputs:
        message["outputs"] = {
            "model_outputs": [
                {"model_id": model_id, "step": step} for model_id, step in details.model_outputs
            ]
        }
    return message


def logged_model_message(
    model: LoggedModel,
    *,
    params: list[tuple[str, str]],
    tags: list[tuple[str, str]],
    metrics: list[dict[str, Any]],
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model_id": model.model_id,
        "experiment_id": model.experiment.wire_id,
        "name": model.name,
        "creation_timestamp_ms": model.creation_timestamp_ms,
        "last_updated_timestamp_ms": model.last_updated_timestamp_ms,
        "artifact_uri": model.artifact_uri,
        "status": model.status,
        "tags": pairs(tags),
    }
    if model.source_run_id:
        info["source_run_id"] = model.source_run_id
    if model.model_type:
        info["model_type"] = model.model_type
    if model.status_message:
        info["status_message"] = model.status_message
    return {"info": info, "data": {"params": pairs(params), "metrics": metrics}}


def workspace_message(workspace: Workspace) -> dict[str, Any]:
    message: dict[str, Any] = {"name": workspace.name}
    if workspace.description:
        message["description"] = workspace.description
    return message
