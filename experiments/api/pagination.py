"""Pages of the portal's REST API lists: `?limit=&offset=`, as DRF's LimitOffsetPagination,
but strict. DRF replaces a limit or offset it cannot read with its default and passes any
limit on to the database; here a value that is not a whole number in range is refused (400),
and a page holds at most MAX_LIMIT items."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

from experiments.validation import is_digits

MAX_LIMIT = 1000


def _query_int(request: Request, name: str, default: int, minimum: int, maximum: int | None) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    bounds = f"at least {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    problem = [f"A whole number {bounds} is required."]
    if not is_digits(text):
        raise ValidationError({name: problem})
    value = int(text)
    if value < minimum or (maximum is not None and value > maximum):
        raise ValidationError({name: problem})
    return value


class PortalPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def get_limit(self, request: Request) -> int:
        return _query_int(request, self.limit_query_param, self.default_limit, 1, self.max_limit)

    def get_offset(self, request: Request) -> int:
        return _query_int(request, self.offset_query_param, 0, 0, None)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        limit, offset = super().get_schema_operation_parameters(view)
        limit["schema"].update(minimum=1, maximum=self.max_limit, default=self.default_limit)
        offset["schema"].update(minimum=0, default=0)
        return [limit, offset]
