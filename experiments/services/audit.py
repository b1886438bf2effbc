"""Who did what: the actor of a request or command, and the append-only audit log."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from experiments.choices import AuditAction
from experiments.models import AuditLog, DeletionJob

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import HttpRequest

ANONYMOUS = "anonymous"
SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who asked for a change: a signed-in user, an anonymous visitor, a shell user or the
    portal itself. `label` is what the audit log shows, also after the user is removed."""

    label: str
    user: AbstractBaseUser | None = None

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        user: Any = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return cls(user.get_username(), user)
        return cls(ANONYMOUS)

    @classmethod
    def cli(cls) -> Actor:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
        return cls(f"cli:{name}")

    @classmethod
    def system(cls) -> Actor:
        return cls(SYSTEM)


def audit_record(
    *,
    actor: Actor,
    action: AuditAction,
    target_kind: str,
    target_name: str,
    job: DeletionJob | None = None,
    detail: str = "",
) -> AuditLog:
    return AuditLog.objects.create(
        actor=actor.label[:200],
        actor_user=actor.user if actor.user is not None and actor.user.pk else None,
        action=action,
        target_kind=target_kind,
        target_name=target_name[:200],
        job=job,
        detail=detail,
    )
