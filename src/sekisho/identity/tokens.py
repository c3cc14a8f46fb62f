"""Operator tokens for the admin API: random, shown once, stored hashed, expiring, revocable.

A token is `sko_<12 hex prefix>_<43 url-safe chars>`; the prefix is stored in
clear, the whole token only as its SHA-256. Every use reads the store (no
cache), so a revoked or expired token, or one whose user was disabled, is
refused on every replica at once. A token created without an expiry gets
`identity.operator_token_ttl_days` (90 days by default).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho import audit
from sekisho.actor import Actor
from sekisho.control.errors import ControlPlaneError
from sekisho.identity.users import check_may_manage
from sekisho.ids import WrongKind, expect_kind, new_id
from sekisho.store.models import PLATFORM_ROLES, OperatorToken, User
from sekisho.tenancy.keys import hash_key, key_matches

TOKEN_RE = re.compile(r"^sko_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
DEFAULT_TTL_DAYS = 90


def token_prefix(raw: str) -> str | None:
    m = TOKEN_RE.match(raw)
    return f"sko_{m.group(1)}" if m else None


def create_token(
    session: Session,
    user: User,
    actor: Actor,
    *,
    name: str = "",
    expires_at: datetime | None = None,
    ttl_days: int = DEFAULT_TTL_DAYS,
) -> tuple[OperatorToken, str]:
    """A new token for `user` (yourself, or anyone if you are an admin); shown once."""
    if user.role not in PLATFORM_ROLES or user.disabled:
        raise ControlPlaneError(f"{user.email} is not an enabled platform user")
    if actor.kind == "user" and actor.id != user.id:
        check_may_manage(session, actor, f"create a token for {user.email}")
    now = datetime.now(UTC)
    if expires_at is None:
        expires_at = now + timedelta(days=ttl_days)
    if expires_at <= now:
        raise ControlPlaneError("a token's expiry must be in the future")
    prefix = "sko_" + secrets.token_hex(6)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    token = OperatorToken(
        id=new_id("tok", 8),
        user_id=user.id,
        prefix=prefix,
        secret_hash=hash_key(secret),
        name=name.strip()[:200],
        created_at=now,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor,
        "token.create",
        ("operator_token", token.id),
        details={
            "user": user.email,
            "role": user.role,
            "prefix": prefix,
            "expires_at": expires_at.isoformat(),
        },
    )
    return token, secret


def user_for_token(session: Session, raw: str) -> User | None:
    """The enabled platform user a valid, unexpired, unrevoked token belongs to."""
    prefix = token_prefix(raw)
    if prefix is None:
        return None
    row = session.execute(
        select(OperatorToken, User)
        .join(User, User.id == OperatorToken.user_id)
        .where(OperatorToken.prefix == prefix)
    ).first()
    if row is None:
        return None
    token, user = row
    now = datetime.now(UTC)
    if (
        not key_matches(raw, token.secret_hash)
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
        or user.disabled
        or user.role not in PLATFORM_ROLES
    ):
        return None
    return user  # type: ignore[no-any-return]


def token_status(token: OperatorToken, user: User, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    if user.disabled:
        return "user disabled"
    return "active"


def token_view(token: OperatorToken, user: User, now: datetime) -> dict[str, Any]:
    """A token as listed: never the secret, only its prefix."""

    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "id": token.id,
        "prefix": token.prefix,
        "name": token.name,
        "user": user.email,
        "role": user.role,
        "status": token_status(token, user, now),
        "created_at": iso(token.created_at),
        "expires_at": iso(token.expires_at),
        "revoked_at": iso(token.revoked_at),
    }


def list_tokens(
    session: Session, *, user: User | None = None, include_inactive: bool = False
) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    query = select(OperatorToken, User).join(User, User.id == OperatorToken.user_id)
    if user is not None:
        query = query.where(OperatorToken.user_id == user.id)
    rows = session.execute(query.order_by(OperatorToken.created_at)).all()
    views = [token_view(t, u, now) for t, u in rows]
    return views if include_inactive else [v for v in views if v["status"] == "active"]


def find_token(session: Session, ref: str) -> tuple[OperatorToken, User]:
    """A token by id (`tok_...`) or prefix (`sko_...`)."""
    ref = ref.strip()
    try:
        typed = expect_kind(ref, "tok", "sko")
    except WrongKind as exc:
        raise ControlPlaneError(str(exc)) from exc
    if not typed:
        raise ControlPlaneError(f"{ref!r} is neither a token id (tok_...) nor a prefix (sko_...)")
    column = OperatorToken.id if ref.startswith("tok_") else OperatorToken.prefix
    row = session.execute(
        select(OperatorToken, User)
        .join(User, User.id == OperatorToken.user_id)
        .where(column == ref)
    ).first()
    if row is None:
        raise ControlPlaneError(f"no operator token with id or prefix {ref!r}")
    return row[0], row[1]


def revoke_token(
    session: Session, ref: str, actor: Actor, note: str | None = None
) -> tuple[OperatorToken, User]:
    """Revoke at once (the row stays): your own token, or anyone's if you are an admin."""
    token, user = find_token(session, ref)
    if actor.kind == "user" and actor.id != user.id:
        check_may_manage(session, actor, f"revoke a token of {user.email}")
    if token.revoked_at is not None:
        raise ControlPlaneError(f"operator token {token.prefix} is already revoked")
    token.revoked_at = datetime.now(UTC)
    session.flush()
    audit.record(
        session,
        actor,
        "token.revoke",
        ("operator_token", token.id),
        note=note,
        details={"user": user.email, "prefix": token.prefix},
    )
    return token, user
