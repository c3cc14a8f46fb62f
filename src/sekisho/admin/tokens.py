"""Operator tokens for the admin API: random, shown once, stored hashed."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho import audit
from sekisho.actor import Actor
from sekisho.control.errors import ControlPlaneError
from sekisho.ids import new_id
from sekisho.store.models import PLATFORM_ROLES, OperatorToken, User
from sekisho.tenancy.keys import hash_key, key_matches

TOKEN_RE = re.compile(r"^sko_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


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
) -> tuple[OperatorToken, str]:
    if user.role not in PLATFORM_ROLES or user.disabled:
        raise ControlPlaneError(f"{user.email} is not an enabled platform user")
    prefix = "sko_" + secrets.token_hex(6)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    token = OperatorToken(
        id=new_id("tok", 8),
        user_id=user.id,
        prefix=prefix,
        secret_hash=hash_key(secret),
        name=name,
        created_at=datetime.now(UTC),
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
            "expires_at": expires_at.isoformat() if expires_at else None,
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
