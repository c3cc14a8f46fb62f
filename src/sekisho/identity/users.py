"""Disabling and enabling users. A disabled user's sessions die, sign-in and tokens are refused.

Sessions and operator tokens are confirmed against the store on every use, so
the change holds on every replica as soon as it commits. Only an admin may
disable or enable a user (or manage another user's tokens); nobody disables
themselves or the last enabled admin, so the platform cannot be locked out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sekisho import audit
from sekisho.actor import Actor
from sekisho.control.errors import ControlPlaneError
from sekisho.store.models import User, UserSession
from sekisho.tenancy.service import find_user

MANAGER_ROLES = ("admin",)


class NotPermitted(ControlPlaneError):
    """The actor's role does not allow this change; nothing was written."""


def check_may_manage(session: Session, actor: Actor, what: str) -> None:
    """NotPermitted unless `actor` is the system or an enabled admin (as stored now)."""
    if actor.kind == "system":
        return
    user = session.get(User, actor.id)
    if user is None or user.disabled or user.role not in MANAGER_ROLES:
        raise NotPermitted(f"only an admin may {what}")


@dataclass(frozen=True, slots=True)
class UserChange:
    user: User
    sessions_revoked: int = 0


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "tenant_id": user.tenant_id,
        "disabled": user.disabled,
        "created_at": user.created_at.isoformat(),
    }


def list_users(session: Session) -> list[dict[str, Any]]:
    return [user_view(u) for u in session.scalars(select(User).order_by(User.email))]


def disable_user(session: Session, ref: str, actor: Actor, note: str | None = None) -> UserChange:
    """Disable a user: every live session ends now; sign-in and their tokens are refused."""
    user = find_user(session, ref)
    check_may_manage(session, actor, "disable a user")
    if actor.kind == "user" and actor.id == user.id:
        raise ControlPlaneError("you cannot disable yourself")
    if user.disabled:
        raise ControlPlaneError(f"{user.email} is already disabled")
    if user.role == "admin":
        admins = session.scalar(
            select(func.count()).where(User.role == "admin", User.disabled.is_(False))
        )
        if int(admins or 0) <= 1:
            raise ControlPlaneError(f"{user.email} is the last enabled admin")
    now = datetime.now(UTC)
    user.disabled = True
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason="user_disabled")
    )
    revoked = int(getattr(result, "rowcount", 0) or 0)
    session.flush()
    audit.record(
        session,
        actor,
        "user.disable",
        ("user", user.id),
        tenant_id=user.tenant_id,
        note=note,
        details={"email": user.email, "role": user.role, "sessions_revoked": revoked},
    )
    return UserChange(user, revoked)


def enable_user(session: Session, ref: str, actor: Actor, note: str | None = None) -> UserChange:
    """Enable a disabled user again (their old sessions stay ended)."""
    user = find_user(session, ref)
    check_may_manage(session, actor, "enable a user")
    if not user.disabled:
        raise ControlPlaneError(f"{user.email} is not disabled")
    user.disabled = False
    session.flush()
    audit.record(
        session,
        actor,
        "user.enable",
        ("user", user.id),
        tenant_id=user.tenant_id,
        note=note,
        details={"email": user.email, "role": user.role},
    )
    return UserChange(user)
