"""Who is chatting: a tenant's member, through the existing identity code.

Sign-in, server-side sessions, throttling and CSRF tokens are
`sekisho.identity`'s; this module only picks the chat app's cookie, refuses
cross-origin state changes, insists on the `member` role, and builds the
chat core's `Principal` from the session as read from the store just now
(so `may_act` judged it on this very request).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from sekisho.chat.principal import Principal
from sekisho.chatapp.browser import cookie_names, own_origin, same_origin_ok
from sekisho.chatapp.store import Owner
from sekisho.chatapp.wording import SUSPENDED
from sekisho.errors import InvalidApiKey, PermissionDenied, TenantSuspended
from sekisho.identity import sessions
from sekisho.identity.csrf import UNSAFE_METHODS, csrf_ok, csrf_token
from sekisho.identity.resolver import SessionAuth
from sekisho.identity.sessions import SignedIn
from sekisho.identity.signin import SignIn, SignInResult
from sekisho.settings import IdentitySettings
from sekisho.store.db import Database
from sekisho.store.models import Tenant, UserSession
from sekisho.tenancy.keys import hash_key

MEMBER_ROLE = "member"


@dataclass(frozen=True, slots=True)
class Member:
    """A signed-in member on this request."""

    signed_in: SignedIn
    csrf: str

    @property
    def owner(self) -> Owner:
        assert self.signed_in.tenant is not None
        return Owner(self.signed_in.tenant.id, self.signed_in.session.user_id)

    @property
    def principal(self) -> Principal:
        assert self.signed_in.tenant is not None
        return Principal(
            tenant=self.signed_in.tenant, user_id=self.signed_in.session.user_id, source="chat"
        )

    @property
    def email(self) -> str:
        return self.signed_in.email


class CrossOriginRefused(PermissionDenied):
    def __init__(self) -> None:
        super().__init__("Cross-origin requests are refused.")


class MemberAuth:
    def __init__(
        self, db: Database, cfg: IdentitySettings, sessions: SessionAuth, signin: SignIn
    ) -> None:
        self._db = db
        self._cfg = cfg
        self._sessions = sessions
        self._signin = signin

    # -- cookies -----------------------------------------------------------------------------

    def secure(self, request: Request) -> bool:
        if self._cfg.cookie_secure is not None:
            return self._cfg.cookie_secure
        return request.url.scheme == "https"

    def token(self, request: Request) -> str | None:
        name, _ = cookie_names(self.secure(request))
        return request.cookies.get(name) or None

    def set_session_cookie(self, request: Request, response: Response, token: str) -> None:
        name, pre = cookie_names(self.secure(request))
        response.set_cookie(
            name,
            token,
            max_age=int(self._cfg.session_absolute_timeout_s),
            path="/",
            httponly=True,
            secure=self.secure(request),
            samesite="lax" if self._cfg.cookie_samesite == "lax" else "strict",
        )
        response.delete_cookie(pre, path="/", secure=self.secure(request), httponly=True)

    def clear_session_cookie(self, request: Request, response: Response) -> None:
        name, _ = cookie_names(self.secure(request))
        response.delete_cookie(name, path="/", secure=self.secure(request), httponly=True)

    def pre_token(self, request: Request) -> tuple[str, bool]:
        """The pre-sign-in secret (existing or new) and whether it must be set as a cookie."""
        _, pre = cookie_names(self.secure(request))
        found = request.cookies.get(pre)
        if found and 20 <= len(found) <= 100:
            return found, False
        return secrets.token_urlsafe(32), True

    def set_pre_cookie(self, request: Request, response: Response, value: str) -> None:
        _, pre = cookie_names(self.secure(request))
        response.set_cookie(
            pre,
            value,
            max_age=3600,
            path="/",
            httponly=True,
            secure=self.secure(request),
            samesite="strict",
        )

    # -- checks ------------------------------------------------------------------------------

    def check_origin(self, request: Request) -> None:
        if request.method in UNSAFE_METHODS and not same_origin_ok(
            request.headers, own_origin(request.url.scheme, request.url.netloc)
        ):
            raise CrossOriginRefused()

    def check_form(self, request: Request, pre: str, presented: str | None) -> None:
        """A form posted before sign-in: same origin, and its token bound to the pre-cookie."""
        self.check_origin(request)
        if not pre or not csrf_ok(pre, presented):
            raise PermissionDenied("The form expired; reload the page and try again.")

    async def member(self, request: Request) -> Member:
        """The signed-in member of this request, or the error that says why not. Fails closed."""
        self.check_origin(request)
        token = self.token(request)
        if token is None:
            raise InvalidApiKey("Sign in first.")
        try:
            who = await self._sessions.signed_in(request, token=token)
        except InvalidApiKey:
            if await asyncio.to_thread(self._ended_by_suspension, token):
                raise TenantSuspended(SUSPENDED) from None
            raise
        if who.session.role != MEMBER_ROLE or who.tenant is None:
            raise PermissionDenied("The chat app is for a tenant's members.")
        return Member(who, csrf_token(token))

    def _ended_by_suspension(self, token: str) -> bool:
        """Is this (dead) session's tenant not active now? Only chooses the wording of the refusal."""
        with self._db.read() as db:
            state = db.scalar(
                select(Tenant.state)
                .join(UserSession, UserSession.tenant_id == Tenant.id)
                .where(UserSession.token_hash == hash_key(token))
            )
        return state is not None and state != "active"

    async def sign_in(
        self, request: Request, email: str, password: str, pre: str, presented: str | None
    ) -> SignInResult:
        """Sign a member in (throttled, rotated); the form's CSRF token binds the pre-cookie."""
        self.check_form(request, pre, presented)
        result = await self._signin.sign_in(
            email,
            password,
            ip=request.client.host if request.client else None,
            previous=self.token(request),
        )
        if result.role != MEMBER_ROLE:
            await asyncio.to_thread(self._revoke, result.token, "not_a_member")
            raise PermissionDenied(
                "The chat app is for a tenant's members; platform users use the console."
            )
        return result

    async def sign_out(self, token: str) -> None:
        await asyncio.to_thread(self._revoke, token, "signed_out")

    def _revoke(self, token: str, reason: str) -> None:
        with self._db.begin() as db:
            sessions.revoke(db, token, reason, datetime.now(UTC))
