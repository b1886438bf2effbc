"""Reading MLflow request fields with the type rules and error messages of MLflow's server.

GET requests carry fields in the query string, everything else in a JSON body. IDs are strings,
int64 fields may be numbers or decimal strings, enums travel by name.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import msgspec
import orjson
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, QueryDict

from experiments.mlflow.errors import MlflowError
from experiments.validation import INT64_MAX, INT64_MIN, invalid_value, is_digits

_SEE_DOCS = " See the API docs for more information about request parameters."
_SPECIAL_FLOATS = {
    "NaN": math.nan,
    "Infinity": math.inf,
    "-Infinity": -math.inf,
    "inf": math.inf,
    "-inf": -math.inf,
}


def storable(value: str) -> bool:
    """Whether a database can store `value`: PostgreSQL refuses NUL characters, and a lone
    surrogate (valid in JSON's \\u escapes) is not UTF-8."""
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def require_storable(data: object) -> None:
    """Refuse a request holding a string no database can store, wherever it is nested.

    Checked once for the whole request, so that no field can forget it. Iterative: a deeply
    nested body must not exhaust the stack.
    """
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not storable(item):
                raise MlflowError.invalid(
                    f"Invalid value {json.dumps(item[:100])} in the request: strings cannot "
                    "contain NUL characters or unpaired surrogates."
                )
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


# `\u0000`, a surrogate escape, or UTF-8 bytes of a surrogate (json.loads lets them through).
_MAY_HOLD_UNSTORABLE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|\xed[\xa0-\xbf]")


def _may_hold_unstorable(body: bytes) -> bool:
    # Two substring searches, then the regex only for bodies that have an escape or an 0xED
    # byte: the regex alone costs a millisecond on a 1,000-metric batch.
    return (b"\\u" in body or b"\xed" in body) and _MAY_HOLD_UNSTORABLE.search(body) is not None


# A run of 19 digits may be an integer past int64, which orjson would turn into a float.
# Searched for as 19 zeros in the body with every digit made a zero: a regex such as \d{19}
# tries each digit as a start and costs more than parsing the body.
_DIGITS_AS_ZEROS = bytes(b"0"[0] if b"0"[0] <= i <= b"9"[0] else b"."[0] for i in range(256))
_NINETEEN_DIGITS = b"0" * 19


def _may_overflow_int64(body: bytes) -> bool:
    return _NINETEEN_DIGITS in body.translate(_DIGITS_AS_ZEROS)


def _loads(body: bytes) -> Any:
    """JSON of a request body: orjson (a 1,000-metric batch in a third of the time), and the
    standard library for what orjson refuses but MLflow's server accepts (NaN and Infinity
    literals, which Python's json.dumps writes) or would read inexactly (huge integers)."""
    if not _may_overflow_int64(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)


def decode_plain(request: HttpRequest, decoder: msgspec.json.Decoder) -> Any | None:
    """The request body decoded and checked by a msgspec `decoder` of exact types, or None if
    the body needs RequestFields, with its error messages and leniencies (numbers as strings,
    "NaN", nulls, NaN literals, integers past int64, escapes that may hold unstorable text).

    For the hot endpoints: a 1,000-metric log-batch decoded into typed structs costs half of
    orjson's dicts with the checks done in Python.
    """
    try:
        body = request.body
    except RequestDataTooBig:
        return None  # RequestFields answers it
    if (
        not body.lstrip().startswith(b"{")
        or _may_hold_unstorable(body)
        or _may_overflow_int64(body)
    ):
        return None
    try:
        return decoder.decode(body)
    except (msgspec.MsgspecError, ValueError, RecursionError):  # bad UTF-8 is a ValueError
        return None


def missing(path: str) -> MlflowError:
    return MlflowError.invalid(f"Missing value for required parameter '{path}'.{_SEE_DOCS}")


def wrong_type(path: str, value: object, expected: str | None = None) -> MlflowError:
    hint = f" Hint: Value was of type '{type(value).__name__}'."
    if expected:
        hint += f" Expected {expected}."
    return MlflowError.invalid(invalid_value(path, value, hint) + _SEE_DOCS)


def to_int64(value: object, path: str) -> int:
    """An int64 from a JSON number or a decimal string; bools and fractions are refused."""
    if type(value) is int:
        result = value
    elif type(value) is float and value.is_integer():
        result = int(value)
    elif isinstance(value, str):
        try:
            result = int(value.strip())
        except ValueError:
            raise wrong_type(path, value, "an integer") from None
    else:
        raise wrong_type(path, value, "an integer")
    if not INT64_MIN <= result <= INT64_MAX:
        raise MlflowError.invalid(
            invalid_value(path, value, "Value out of range for a 64-bit integer.") + _SEE_DOCS
        )
    return result


def to_double(value: object, path: str) -> float:
    """A double from a JSON number, a numeric string, or "NaN"/"Infinity"/"-Infinity"."""
    kind = type(value)
    if kind is float:
        return value  # type: ignore[return-value]
    if kind is int:
        try:
            return float(value)  # type: ignore[arg-type]
        except OverflowError:
            raise wrong_type(path, value, "a double") from None
    if kind is str:
        special = _SPECIAL_FLOATS.get(value)  # type: ignore[call-overload]
        if special is not None:
            return special
        try:
            return float(value)  # type: ignore[arg-type]
        except ValueError:
            pass
    raise MlflowError.invalid(
        invalid_value(
            path,
            value if kind is not float else str(value),
            "Please specify value as a valid double (64-bit floating point)",
        )
    )


class RequestFields:
    """Typed access to the fields of one MLflow API request."""

    def __init__(self, data: dict[str, Any], query: QueryDict | None = None) -> None:
        self.data = data
        self.query = query

    @classmethod
    def from_request(cls, request: HttpRequest) -> RequestFields:
        """The request's fields, read once per request (an endpoint's holds_run may read the
        run id before the view reads the rest)."""
        fields = getattr(request, "mlflow_fields", None)
        if fields is None:
            fields = request.mlflow_fields = cls._read(request)  # type: ignore[attr-defined]
        return fields

    @classmethod
    def _read(cls, request: HttpRequest) -> RequestFields:
        if request.method == "GET":
            require_storable(dict(request.GET.lists()))
            return cls({key: request.GET.get(key) for key in request.GET}, request.GET)
        try:
            body = request.body
        except RequestDataTooBig:
            raise MlflowError.invalid("Request body is larger than this server accepts.") from None
        if not body or not body.strip():
            return cls({})
        try:
            data = _loads(body)
            if isinstance(data, str):
                # Older clients double-encode the body as a JSON string.
                data = json.loads(data)
        except ValueError as exc:  # UnicodeDecodeError included
            raise MlflowError.invalid(f"Malformed JSON request body: {exc}") from None
        except RecursionError:
            raise MlflowError.invalid("Malformed JSON request body: nested too deeply.") from None
        if not isinstance(data, dict):
            raise MlflowError.invalid("The request body must be a JSON object.")
        if _may_hold_unstorable(body) or not body.lstrip().startswith(b"{"):
            # Walking a 1,000-metric batch costs more than parsing it: only bodies that could
            # hold a NUL or a lone surrogate (an escape, raw surrogate bytes, a double-encoded
            # or non-UTF-8 body) are walked.
            require_storable(data)
        return cls(data)

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def string(self, name: str, *, required: bool = False, default: str = "") -> str:
        value = self.data.get(name)
        if value is None or (required and value == ""):
            if required:
                raise missing(name)
            return default
        if not isinstance(value, str):
            raise wrong_type(name, value)
        return value

    def run_id(self) -> str:
        """`run_id`, or the legacy `run_uuid` the client also sends."""
        value = self.data.get("run_id") or self.data.get("run_uuid")
        if value is None or value == "":
            raise missing("run_id")
        if not isinstance(value, str):
            raise wrong_type("run_id", value)
        return value

    def int64(self, name: str, *, required: bool = False) -> int | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise missing(name)
            return None
        return to_int64(value, name)

    def boolean(self, name: str, *, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        raise wrong_type(name, value, "true or false")

    def strings(self, name: str) -> list[str]:
        if self.query is not None:
            values = self.query.getlist(name)
        else:
            values = self.data.get(name)
            if values is None:
                return []
            if not isinstance(values, list):
                raise wrong_type(name, values, "a list")
        for value in values:
            if not isinstance(value, str):
                raise wrong_type(name, value, "a list of strings")
        return list(values)

    def objects(self, name: str) -> list[dict[str, Any]]:
        values = self.data.get(name)
        if values is None:
            return []
        if not isinstance(values, list):
            raise wrong_type(name, values, "a list")
        for index, value in enumerate(values):
            if not isinstance(value, dict):
                raise wrong_type(f"{name}[{index}]", value, "an object")
        return values

    def object(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise wrong_type(name, value, "an object")
        return value

    def enum(self, name: str, names: list[str], default: str) -> str:
        """An enum sent by name, or by its protobuf number (1-based, in `names` order)."""
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, str) and value in names:
            return value
        if isinstance(value, str) and is_digits(value) and len(value) < 10:
            value = int(value)
        if type(value) is int and 1 <= value <= len(names):
            return names[value - 1]
        raise MlflowError.invalid(
            invalid_value(name, value, f"Must be one of {', '.join(names)}.") + _SEE_DOCS
        )


def key_value_pairs(items: list[dict[str, Any]], path: str) -> list[tuple[str, str]]:
    """[{key, value}] entries (tags, params) as pairs; a missing key is an error."""
    pairs = []
    for index, item in enumerate(items):
        key = item.get("key")
        value = item.get("value", "")
        if key is None or key == "":
            raise missing(f"{path}[{index}].key")
        if not isinstance(key, str):
            raise wrong_type(f"{path}[{index}].key", key)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise wrong_type(f"{path}[{index}].value", value)
        pairs.append((key, value))
    return pairs
