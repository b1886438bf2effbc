"""How callers of the portal's REST API authenticate: the browser's session, or a personal API
key as `Authorization: Bearer <key>` (the SDK and the CLI)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from experiments.selectors.access import authenticate_secret
from experiments.services.access import API_KEY_PREFIX


class ApiKeyAuthentication(BaseAuthentication):
    """Personal API keys only: a workspace tracking token is for the mlflow client."""

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, Any] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        secret = secret.strip()
        principal = authenticate_secret(secret) if secret.startswith(API_KEY_PREFIX) else None
        if principal is None:
            raise AuthenticationFailed("The API key is invalid, expired or revoked.")
        return principal.user, principal

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="portal"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes ApiKeyAuthentication in the OpenAPI schema."""

    target_class = "experiments.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API key (the portal: your name > API keys).",
        }
