"""Rules for names and values logged to runs, with MLflow's limits and wording."""

from __future__ import annotations

import json
import posixpath
import re

from experiments.errors import InvalidInput

MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_VAL_LENGTH = 20000
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_DATASET_SOURCE_SIZE = 65535
# MLflow has no check for it, but its datasets.dataset_source_type column holds 36.
MAX_DATASET_SOURCE_TYPE_SIZE = 36
MAX_DATASET_SCHEMA_SIZE = 1048575
MAX_DATASET_PROFILE_SIZE = 16777215
MAX_INPUT_TAG_KEY_SIZE = 255
MAX_INPUT_TAG_VALUE_SIZE = 500
MAX_RUN_NAME_LENGTH = MAX_TAG_VAL_LENGTH
MAX_USER_ID_LENGTH = 256
# Column widths of MLflow's store for fields it does not check itself.
MAX_RUN_ID_LENGTH = 32
MAX_MODEL_ID_LENGTH = 64
MAX_MODEL_TYPE_LENGTH = 500
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_KEY_RE = re.compile(r"[/\w.\- :]*")
_BAD_CHARACTER_MESSAGE = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), "
    "colon(:) and slashes (/)."
)


def is_digits(text: str) -> bool:
    """Whether text is a plain whole number (ASCII digits only): str.isdigit() also holds for
    "²", and int() also reads "+5", " 5", "5_0" and other scripts' digits."""
    return text.isascii() and text.isdecimal()


# How much of a refused value an error message repeats.
_SHOWN_VALUE_MAX = 1000


def invalid_value(path: str, value: object, message: str | None = None) -> str:
    """MLflow's message for a refused value, which it repeats as JSON (cut short when long)."""
    try:
        formatted = json.dumps(value, sort_keys=True, separators=(",", ":"))
    except RecursionError:
        formatted = f"(a {type(value).__name__} nested too deeply to show)"
    except (TypeError, ValueError):
        formatted = f"(a {type(value).__name__})"
    if len(formatted) > _SHOWN_VALUE_MAX:
        formatted = f"{formatted[:_SHOWN_VALUE_MAX]}... ({len(formatted):,} characters)"
    if message:
        return f"Invalid value {formatted} for parameter '{path}' supplied: {message}"
    return f"Invalid value {formatted} for parameter '{path}' supplied."


def _path_not_unique(name: str) -> bool:
    norm = posixpath.normpath(name)
    return norm != name or norm == "." or norm.startswith("..") or norm.startswith("/")


def validate_key(name: str, path: str = "key", length_name: str | None = None) -> None:
    """A metric, param or tag key: MLflow's characters, no path tricks, at most 250 chars.
    MLflow names the field by its path, except in the length message of a metric ("Metric
    name") or a param ("Param key"): `length_name`."""
    # fullmatch: with match, `$` would also accept a trailing newline.
    if not _KEY_RE.fullmatch(name):
        raise InvalidInput(invalid_value(path, name, _BAD_CHARACTER_MESSAGE))
    if _path_not_unique(name):
        raise InvalidInput(
            invalid_value(
                path,
                name,
                "Names may be treated as files in certain cases, and must not resolve to other "
                f"names when treated as such. This name would resolve to "
                f"{posixpath.normpath(name)!r}",
            )
        )
    if len(name) > MAX_ENTITY_KEY_LENGTH:
        raise InvalidInput(
            f"'{length_name or path}' exceeds the maximum length of {MAX_ENTITY_KEY_LENGTH} "
            "characters"
        )


def param_change_refused(key: str, old: str, new: str, owner: str) -> InvalidInput:
    """MLflow's words for a param logged again with another value; `owner` reads as
    "run ID='...'" or "model ID='...'"."""
    return InvalidInput(
        f"Changing param values is not allowed. Param with key='{key}' was already logged with "
        f"value='{old}' for {owner}. Attempted logging new value '{new}'."
    )


def validate_length(path: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidInput(f"'{path}' exceeds the maximum length of {limit} characters")


def validate_experiment_name(name: str) -> None:
    if not name or not name.strip():
        raise InvalidInput(f"Invalid experiment name: '{name}'")
    validate_length("name", name, MAX_EXPERIMENT_NAME_LENGTH)


def validate_batch_limits(metrics: int, params: int, tags: int) -> None:
    for entity, limit, length in (
        ("metrics", MAX_METRICS_PER_BATCH, metrics),
        ("params", MAX_PARAMS_TAGS_PER_BATCH, params),
        ("tags", MAX_PARAMS_TAGS_PER_BATCH, tags),
        ("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, metrics + params + tags),
    ):
        if length > limit:
            raise InvalidInput(
                f"A batch logging request can contain at most {limit} {entity}. Got {length} "
                f"{entity}. Please split up {entity} across multiple requests and try again."
            )
