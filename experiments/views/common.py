"""What every page view shares: error pages for refused requests, query-string parsing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from experiments.errors import InvalidInput, NotFound, PortalError, database_failure

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]
MAX_INT_PARAMETER = 10**9


class TooLarge(PortalError):
    """Something asked for is too large to show (an artifact preview, say)."""


def _status_of(error: PortalError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, TooLarge):
        return 413
    return 400


def _database_failure(request: HttpRequest, error: Exception) -> tuple[str, int]:
    logger.warning("Database failure during %s: %s", request.path, error)
    return database_failure(error)


def page(view: View) -> View:
    """Refused requests answer an error page with the reason and a 4xx status, never a 500."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except PortalError as error:
            status = _status_of(error)
            return render(
                request,
                "experiments/error.html",
                {"message": error.message, "status": status, "details": error},
                status=status,
            )
        except (OperationalError, InterfaceError) as error:
            message, status = _database_failure(request, error)
            context = {"message": message, "status": status}
            return render(request, "experiments/error.html", context, status=status)

    return wrapper


def json_endpoint(view: View) -> View:
    """The JSON endpoints the pages call: refusals answer {"error": message} with a 4xx."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except PortalError as error:
            return JsonResponse({"error": error.message}, status=_status_of(error))
        except (OperationalError, InterfaceError) as error:
            message, status = _database_failure(request, error)
            return JsonResponse({"error": message}, status=status)

    return wrapper


Number = TypeVar("Number", int, float)


def int_parameter(
    request: HttpRequest, name: str, default: int, *, low: int, high: int, label: str
) -> int:
    return _number_parameter(request, name, default, int, low=low, high=high, label=label)


def float_parameter(
    request: HttpRequest, name: str, default: float, *, low: float, high: float, label: str
) -> float:
    return _number_parameter(request, name, default, float, low=low, high=high, label=label)


def _number_parameter(
    request: HttpRequest,
    name: str,
    default: Number,
    kind: type[Number],
    *,
    low: Number,
    high: Number,
    label: str,
) -> Number:
    """The query parameter `name` as a number of `kind` within [low, high] (`default` if
    absent); a clear error otherwise."""
    raw = request.GET.get(name, "").strip()
    if not raw:
        return default
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(raw)
    except ValueError:
        raise InvalidInput(f"The {label} must be {what}, not '{raw[:40]}'.") from None
    if not low <= value <= high:
        raise InvalidInput(f"The {label} must be between {low:,} and {high:,}, not {raw[:40]}.")
    return value


def bool_parameter(request: HttpRequest, name: str) -> bool:
    return request.GET.get(name, "").strip().lower() in {"1", "true", "on", "yes"}


def list_parameter(request: HttpRequest, name: str) -> list[str]:
    """Values given repeated (`a=1&a=2`) or comma-separated (`a=1,2`), in order, once each."""
    values: list[str] = []
    for raw in request.GET.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return list(dict.fromkeys(values))


def choice_parameter(
    request: HttpRequest, name: str, choices: dict[str, Any], default: str, *, label: str
) -> str:
    value = request.GET.get(name, "").strip() or default
    if value not in choices:
        options = ", ".join(choices)
        raise InvalidInput(f"The {label} must be one of {options}, not '{value[:40]}'.")
    return value
