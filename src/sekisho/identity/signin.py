"""Sign-in: throttle, password (Argon2id), account and tenant state, then a new session."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from sekisho.errors import InvalidApiKey, SekishoError, ServiceUnavailable
from sekisho.identity import sessions
from sekisho.identity.csrf import csrf_token
from sekisho.identity.throttle import SigninThrottle
from sekisho.settings import IdentitySettings
from sekisho.store.db import Database
from sekisho.store.models import Tenant, User
from sekisho.tenancy.passwords import hash_password, verify_password
from sekisho.tenancy.service import tenant_snapshot
from sekisho.tenancy.snapshot import may_act

WRONG = "Wrong e-mail or password."


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so both cases take as long."""
    return hash_password("sekisho-no-such-user-password")


@dataclass(frozen=True, slots=True)
class SignInResult:
    token: str
    csrf_token: str
    session_id: str
    user_id: str
    email: str
    role: str
    tenant_id: str | None
    expires_at: datetime


class SignIn:
    def __init__(self, db: Database, cfg: IdentitySettings, throttle: SigninThrottle) -> None:
        self._db = db
        self._cfg = cfg
        self._throttle = throttle

    def _blocking(
        self, email: str, password: str, ip: str | None, previous: str | None
    ) -> SignInResult:
        self._throttle.check(email, ip)
        now = datetime.now(UTC)
        with self._db.read() as db:
            found = db.execute(
                select(User, Tenant)
                .outerjoin(Tenant, Tenant.id == User.tenant_id)
                .where(User.email == email)
            ).first()
        user, tenant = found if found is not None else (None, None)
        stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
        if not verify_password(stored, password) or user is None or not user.password_hash:
            self._throttle.failed(email, ip)
            raise InvalidApiKey(WRONG)
        if user.disabled:
            raise InvalidApiKey("This account is disabled.")
        if user.tenant_id is not None:
            # The one access check: a suspended tenant's member is refused here too.
            may_act(
                tenant_snapshot(tenant) if tenant is not None else None, None, now, session=None
            )
        with self._db.begin() as db:
            if previous:  # rotate: the session presented at sign-in dies
                sessions.revoke(db, previous, "rotated_at_sign_in", now)
            row, token = sessions.new_session(db, user, self._cfg, client_ip=ip, now=now)
        self._throttle.succeeded(email)
        return SignInResult(
            token,
            csrf_token(token),
            row.id,
            user.id,
            user.email,
            user.role,
            user.tenant_id,
            row.expires_at,
        )

    async def sign_in(
        self, email: str, password: str, *, ip: str | None, previous: str | None = None
    ) -> SignInResult:
        """A new session, or InvalidApiKey / TenantSuspended / RateLimited / ServiceUnavailable."""
        email = email.strip().lower()
        try:
            return await asyncio.to_thread(self._blocking, email, password, ip, previous)
        except SekishoError:
            raise
        except Exception as exc:  # the store could not answer: refuse (Rule 6)
            raise ServiceUnavailable("Sign-in is unavailable right now; retry shortly.") from exc
