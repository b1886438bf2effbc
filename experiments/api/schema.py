"""The OpenAPI schema of the portal's REST API: drf-spectacular's, plus the refusals each
operation can answer with (views.exception_handler), so that a client generated from the
schema knows every status it will meet."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What was refused, and why.")


INVALID = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description=(
        'The request was refused: either {"detail": "<why>"}, or each field in error with a '
        'list of messages: {"<field>": ["<why>"]}.'
    ),
)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


UNAUTHENTICATED = _error("No API key or session, or a key that is invalid, expired or revoked.")
FORBIDDEN = _error("The caller's role does not allow this.")
NOT_FOUND = _error("Nothing by that name or id is visible to the caller.")
CONFLICT = _error("It already exists, or its state (being deleted) forbids the change.")


class PortalAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        writes = self.method in ("POST", "PUT", "PATCH", "DELETE")
        refusals = {"401": UNAUTHENTICATED}
        queried = any(parameter["in"] == "query" for parameter in self._get_parameters())
        if writes or queried:
            refusals["400"] = INVALID
        if writes:
            refusals["403"] = FORBIDDEN
            refusals["409"] = CONFLICT
        if "{" in self.path:
            refusals["404"] = NOT_FOUND
        for code, response in sorted(refusals.items()):
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses
