"""RefuseNul: a NUL character in a page's or the portal API's address or form is refused
before any view runs.

PostgreSQL text cannot hold NUL; a query that compares with one fails ("A string literal
cannot contain NUL"), so every view reading a path segment, a query parameter or a form
field would otherwise have to check for it. The MLflow API is left to itself: it refuses
NUL with MLflow's error body (experiments/mlflow).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

MESSAGE = "The request contains a NUL character (%00), which no name or value may hold."
_MLFLOW_PATHS = ("/mlflow/", "/api/", "/ajax-api/", "/version")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _holds_nul(values: Iterable[str]) -> bool:
    return any("\x00" in value for value in values)


class RefuseNul:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(_MLFLOW_PATHS) and (
            "\x00" in request.path_info
            or _holds_nul(v for _, values in request.GET.lists() for v in values)
            or (
                request.content_type in _FORMS
                and _holds_nul(v for _, values in request.POST.lists() for v in values)
            )
        ):
            if request.path_info.startswith("/portal-api/"):
                return JsonResponse({"detail": MESSAGE}, status=400)
            context = {"message": MESSAGE, "status": 400}
            return render(request, "experiments/error.html", context, status=400)
        return self.get_response(request)
