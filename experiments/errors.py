"""Errors the services raise for requests they refuse.

Each names what went wrong in the domain; the MLflow adapter maps them to MLflow's error codes
and the pages to messages. Messages reuse MLflow's wording where MLflow has one, because scripts
and test suites match on it.
"""

from __future__ import annotations


class PortalError(Exception):
    """A refused request. `message` is safe to show to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(PortalError):
    """The request is malformed or breaks a rule (limits, names, immutability)."""


class NotFound(PortalError):
    """The addressed object does not exist (or is not visible to the caller)."""


class AlreadyExists(PortalError):
    """An object with the same identity already exists."""


class Conflict(PortalError):
    """The object is in a state that forbids the change (for example: being deleted)."""


class Unavailable(PortalError):
    """A dependency (the database) is unavailable; the same request may succeed later."""


class Unauthenticated(PortalError):
    """No credentials, or credentials that are invalid, expired or revoked."""


class PermissionDenied(PortalError):
    """Valid credentials that do not allow this action."""


def ran_too_long(error: Exception) -> bool:
    """Whether a database error is PostgreSQL cancelling a statement that ran past
    statement_timeout (settings.py), rather than the database being unavailable."""
    from psycopg2.errors import QueryCanceled

    return isinstance(error.__cause__, QueryCanceled)


UNAVAILABLE_MESSAGE = "The database is temporarily unavailable; try again."
TOO_LONG_MESSAGE = (
    "The request ran longer than the server allows for one database statement and was "
    "cancelled; narrow it (fewer runs, conditions or keys) and try again."
)


def database_failure(error: Exception) -> tuple[str, int]:
    """The message and status for a request the database failed (pages, the portal API): a
    statement cancelled for running too long (504), or the database unavailable (503)."""
    if ran_too_long(error):
        return TOO_LONG_MESSAGE, 504
    return UNAVAILABLE_MESSAGE, 503
