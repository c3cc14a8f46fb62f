"""Server-side sessions: mint, load (with the one access check), touch, revoke."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sekisho.errors import InvalidApiKey
from sekisho.ids import new_id
from sekisho.settings import IdentitySettings
from sekisho.store.models import Tenant, User, UserSession
from sekisho.tenancy.keys import hash_key
from sekisho.tenancy.service import tenant_snapshot
from sekisho.tenancy.snapshot import SessionSnapshot, TenantSnapshot, may_act

TOKEN_PREFIX = "sks_sess_"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session with its user and (for a member) tenant, as read just now."""

    session: SessionSnapshot
    email: str
    tenant: TenantSnapshot | None


def new_session(
    db: Session, user: User, cfg: IdentitySettings, *, client_ip: str | None, now: datetime
) -> tuple[UserSession, str]:
    """A fresh session for `user`; returns the row and the cookie token (never stored)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = UserSession(
        id=new_id("ses", 8),
        token_hash=hash_key(token),
        user_id=user.id,
        tenant_id=user.tenant_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=cfg.session_absolute_timeout_s),
        client_ip=(client_ip or "")[:64] or None,
    )
    db.add(row)
    db.flush()
    return row, token


def load_session(db: Session, token: str, cfg: IdentitySettings, now: datetime) -> SignedIn:
    """The live session behind `token`; raises the error `may_act` gives for a dead one."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        raise InvalidApiKey("Sign in first.")
    row = db.execute(
        select(UserSession, User, Tenant)
        .join(User, User.id == UserSession.user_id)
        .outerjoin(Tenant, Tenant.id == User.tenant_id)
        .where(UserSession.token_hash == hash_key(token))
    ).first()
    if row is None:
        raise InvalidApiKey("Your session has ended; sign in again.")
    sess, user, tenant = row
    snap = SessionSnapshot(
        id=sess.id,
        user_id=user.id,
        role=user.role,
        tenant_id=user.tenant_id,
        user_disabled=user.disabled,
        expires_at=sess.expires_at,
        idle_expires_at=sess.last_seen_at + timedelta(seconds=cfg.session_idle_timeout_s),
        revoked_at=sess.revoked_at,
    )
    tenant_snap = tenant_snapshot(tenant) if tenant is not None else None
    may_act(tenant_snap, None, now, session=snap)
    return SignedIn(snap, user.email, tenant_snap)


def touch(db: Session, session_id: str, cfg: IdentitySettings, now: datetime) -> None:
    """Record use, at most once per `session_touch_interval_s` (bounds writes per request)."""
    db.execute(
        update(UserSession)
        .where(
            UserSession.id == session_id,
            UserSession.last_seen_at < now - timedelta(seconds=cfg.session_touch_interval_s),
        )
        .values(last_seen_at=now)
    )


def revoke(db: Session, token: str, reason: str, now: datetime) -> bool:
    result = db.execute(
        update(UserSession)
        .where(UserSession.token_hash == hash_key(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    return bool(getattr(result, "rowcount", 0))
