"""First-password setup: an operator or admin invites a member; the member sets a password.

`invite` mints a one-time secret (shown once, stored as its SHA-256) for an
existing `member` user, ends any earlier unused invitation of that user, and
records the act in the ledger in the same transaction (Rule 10). `accept`
checks the secret, the expiry, the account and the tenant (`may_act`: a
suspended tenant's member cannot set a password either), sets the Argon2id
hash and ends the invitation, again with its ledger entry. The member then
signs in as usual.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sekisho import audit
from sekisho.actor import Actor
from sekisho.chatapp.tables import ChatInvitation
from sekisho.errors import InvalidApiKey, InvalidRequest, NotFound
from sekisho.ids import new_id
from sekisho.store.models import Tenant, User
from sekisho.tenancy.keys import hash_key
from sekisho.tenancy.passwords import hash_password
from sekisho.tenancy.service import tenant_snapshot
from sekisho.tenancy.snapshot import may_act

TOKEN_PREFIX = "sks_inv_"
DEFAULT_TTL = timedelta(days=7)
MIN_PASSWORD = 10  # as `sekisho user create`


@dataclass(frozen=True, slots=True)
class Invitation:
    id: str
    user_id: str
    email: str
    expires_at: datetime
    token: str  # shown once


def _member(session: Session, ref: str) -> User:
    column = User.id if ref.startswith("usr_") else User.email
    user = session.scalars(select(User).where(column == ref.strip().lower())).first()
    if user is None or user.role != "member" or user.tenant_id is None:
        raise NotFound("No such member.")
    return user


def invite(
    session: Session, ref: str, actor: Actor, now: datetime, ttl: timedelta = DEFAULT_TTL
) -> Invitation:
    """A new one-time invitation for the member `ref` (user id or e-mail)."""
    user = _member(session, ref)
    assert user.tenant_id is not None
    session.execute(
        update(ChatInvitation)
        .where(ChatInvitation.user_id == user.id, ChatInvitation.ended_at.is_(None))
        .values(ended_at=now, ended_reason="replaced")
    )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ChatInvitation(
        id=new_id("inv", 8),
        user_id=user.id,
        tenant_id=user.tenant_id,
        token_hash=hash_key(token),
        created_by=actor.email or actor.id,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "user.invite",
        ("user", user.id),
        tenant_id=user.tenant_id,
        details={"invitation_id": row.id, "expires_at": row.expires_at.isoformat()},
    )
    return Invitation(row.id, user.id, user.email, row.expires_at, token)


def pending(session: Session, token: str, now: datetime) -> tuple[ChatInvitation, User]:
    """The live invitation behind `token` and its member, or InvalidApiKey."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        raise InvalidApiKey("This invitation link is not valid.")
    row = session.scalars(
        select(ChatInvitation).where(ChatInvitation.token_hash == hash_key(token))
    ).first()
    if row is None or row.ended_at is not None:
        raise InvalidApiKey("This invitation link was already used or replaced.")
    if row.expires_at <= now:
        raise InvalidApiKey("This invitation link has expired; ask for a new one.")
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        raise InvalidApiKey("This account is disabled.")
    tenant = session.get(Tenant, user.tenant_id) if user.tenant_id else None
    may_act(tenant_snapshot(tenant) if tenant is not None else None, None, now)
    return row, user


def accept(session: Session, token: str, password: str, now: datetime) -> str:
    """Set the member's first password; returns their e-mail."""
    row, user = pending(session, token, now)
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(
            f"A password has at least {MIN_PASSWORD} characters.", param="password"
        )
    user.password_hash = hash_password(password)
    row.ended_at, row.ended_reason = now, "used"
    audit.record(
        session,
        Actor("user", user.id, user.email, user.role),
        "user.password_set",
        ("user", user.id),
        tenant_id=user.tenant_id,
        details={"invitation_id": row.id},
    )
    return user.email
