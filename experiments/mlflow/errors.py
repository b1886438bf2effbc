from __future__ import annotations

from django.http import JsonResponse

from experiments import errors

STATUS_BY_CODE = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_CONFLICT": 409,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}

CODE_BY_ERROR = {
    errors.InvalidInput: "INVALID_PARAMETER_VALUE",
    errors.NotFound: "RESOURCE_DOES_NOT_EXIST",
    errors.AlreadyExists: "RESOURCE_ALREADY_EXISTS",
    errors.Conflict: "RESOURCE_CONFLICT",
    errors.Unavailable: "TEMPORARILY_UNAVAILABLE",
    errors.Unauthenticated: "UNAUTHENTICATED",
    errors.PermissionDenied: "PERMISSION_DENIED",
}


class MlflowError(Exception):
    """An error answered with MLflow's JSON error body."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_BY_CODE[code]

    @classmethod
    def invalid(cls, message: str) -> MlflowError:
        return cls("INVALID_PARAMETER_VALUE", message)

    @classmethod
    def from_portal_error(cls, error: errors.PortalError) -> MlflowError:
        for error_class, code in CODE_BY_ERROR.items():
            if isinstance(error, error_class):
                return cls(code, error.message)
        return cls("INVALID_PARAMETER_VALUE", error.message)


def error_response(error: MlflowError) -> JsonResponse:
    response = JsonResponse(
        {"error_code": error.code, "message": error.message}, status=error.status
    )
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="mlflow"'
    return response
