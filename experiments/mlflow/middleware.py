"""LoggingLane: log-metric and log-batch answered before the middleware that only pages use.

A training loop sends these calls thousands of times, and each one waits for the answer. The
MLflow API authenticates its own callers with tokens and is exempt from CSRF and the sign-in
requirement, so sessions, CSRF, authentication, the sign-in check, messages and
X-Frame-Options do nothing for it but take time: about 0.4 ms of a log-metric's 3 ms on the
Xeon host (docs/PERFORMANCE.md). The lane sits after the middleware that vets
every request (SecurityMiddleware's HTTPS redirect, CommonMiddleware's host and user-agent
checks) and answers the calls that at_once stores (endpoint's at_once); every other request,
and every call at_once does not take, goes on through the rest of the middleware to its view.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, URLResolver
from django.urls.resolvers import RegexPattern, RoutePattern

from experiments.mlflow.endpoint import at_once_response
from experiments.mlflow.urls import TRACKING_PREFIX, at_once_patterns

# The at-once calls under every workspace tracking URI and at the site root, as portal/urls.py
# routes them; a handful of patterns where the site's URLconf tries dozens.
_AT_ONCE_CALLS = URLResolver(
    RegexPattern(r"^/"),
    [URLResolver(RoutePattern(TRACKING_PREFIX), at_once_patterns), *at_once_patterns],
)


class LoggingLane:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            try:
                match = _AT_ONCE_CALLS.resolve(request.path_info)
            except Resolver404:
                match = None
            if match is not None:
                response = at_once_response(request, match.func, *match.args, **match.kwargs)
                if response is not None:
                    return response
        return self.get_response(request)
