"""Turning a request's session cookie into who is signed in (admin API, console, BFF)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

from starlette.requests import Request

from sekisho.errors import InvalidApiKey, PermissionDenied, SekishoError, ServiceUnavailable
from sekisho.identity import sessions
from sekisho.identity.csrf import CSRF_FIELD, CSRF_HEADER, UNSAFE_METHODS, csrf_ok
from sekisho.identity.principal import AdminPrincipal
from sekisho.settings import IdentitySettings
from sekisho.store.db import Database
from sekisho.store.models import PLATFORM_ROLES

# Sessions already confirmed while serving one read-only console page (see `verified_once`).
_confirmed: ContextVar[dict[str, sessions.SignedIn] | None] = ContextVar(
    "sekisho_confirmed_sessions", default=None
)


@contextmanager
def verified_once() -> Iterator[None]:
    """Within this block (one read-only console page), confirm each session once.

    The console answers a GET by calling the admin API in process several times
    as the viewer; each call would re-read the same session a few milliseconds
    apart. Inside the block the first confirmation is reused by the calls of the
    same request (the context is per request; threads and tasks it starts copy it).
    State changes never use it: every unsafe request confirms afresh.
    """
    reset = _confirmed.set({})
    try:
        yield
    finally:
        _confirmed.reset(reset)


class SessionAuth:
    """Reads the session cookie and confirms the session against the store on every use."""

    def __init__(self, db: Database, cfg: IdentitySettings) -> None:
        self._db = db
        self.cfg = cfg

    def token(self, request: Request) -> str | None:
        return request.cookies.get(self.cfg.cookie_name) or None

    def _load(self, token: str) -> sessions.SignedIn:
        now = datetime.now(UTC)
        with self._db.read() as db:
            signed_in = sessions.load_session(db, token, self.cfg, now)
        last_seen = signed_in.session.idle_expires_at - timedelta(
            seconds=self.cfg.session_idle_timeout_s
        )
        if last_seen < now - timedelta(seconds=self.cfg.session_touch_interval_s):
            with self._db.begin() as db:  # a write only when the last one is old enough
                sessions.touch(db, signed_in.session.id, self.cfg, now)
        return signed_in

    async def signed_in(self, request: Request, *, token: str | None = None) -> sessions.SignedIn:
        """The live session of this request; CSRF-checked for unsafe methods. Fails closed."""
        token = token or self.token(request)
        if token is None:
            raise InvalidApiKey("Sign in first.")
        if request.method in UNSAFE_METHODS:
            presented = request.headers.get(CSRF_HEADER)
            if presented is None and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")
            ):
                value = (await request.form()).get(CSRF_FIELD)
                presented = value if isinstance(value, str) else None
            if not csrf_ok(token, presented):
                raise PermissionDenied("Missing or wrong CSRF token.")
        confirmed = _confirmed.get() if request.method not in UNSAFE_METHODS else None
        if confirmed is not None and token in confirmed:
            return confirmed[token]
        try:
            signed_in = await asyncio.to_thread(self._load, token)
            if confirmed is not None:
                confirmed[token] = signed_in
            return signed_in
        except SekishoError:
            raise
        except Exception as exc:  # store unreachable: deny (Rule 6)
            raise ServiceUnavailable("Cannot verify the session right now.") from exc

    async def admin_principal(self, request: Request) -> AdminPrincipal | None:
        """The admin API's session resolver: a platform user's principal, or None (no cookie)."""
        if self.token(request) is None:
            return None
        who = await self.signed_in(request)
        if who.session.role not in PLATFORM_ROLES:
            raise PermissionDenied("The admin API is for platform users.")
        return AdminPrincipal(who.session.user_id, who.email, who.session.role, "session")
