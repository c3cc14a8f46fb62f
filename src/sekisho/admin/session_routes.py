"""/admin/v1/session: sign in, who am I, sign out. JSON; the session rides in a cookie."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from sekisho.admin.auth import gateway_of
from sekisho.admin.schemas import SessionView
from sekisho.admin.tokens import router as tokens_router
from sekisho.identity import sessions
from sekisho.identity.csrf import csrf_token

router = APIRouter(tags=["session"])
router.include_router(tokens_router)  # /tokens, /users: credentials beside the session


class SignInIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1000)


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post(
    "/session", summary="Sign in; sets the HttpOnly session cookie, returns the CSRF token"
)
async def sign_in(request: Request, body: SignInIn) -> JSONResponse:
    runtime = gateway_of(request).lifecycle
    cfg = runtime.sessions.cfg
    result = await runtime.signin.sign_in(
        body.email, body.password, ip=_client_ip(request), previous=runtime.sessions.token(request)
    )
    response = JSONResponse(
        {
            "user": {
                "id": result.user_id,
                "email": result.email,
                "role": result.role,
                "tenant_id": result.tenant_id,
            },
            "csrf_token": result.csrf_token,
            "expires_at": result.expires_at.isoformat(),
        }
    )
    secure = cfg.cookie_secure if cfg.cookie_secure is not None else request.url.scheme == "https"
    response.set_cookie(
        cfg.cookie_name,
        result.token,
        max_age=int(cfg.session_absolute_timeout_s),
        path="/",
        httponly=True,
        secure=secure,
        samesite="lax" if cfg.cookie_samesite == "lax" else "strict",
    )
    return response


@router.get(
    "/session",
    summary="The signed-in user (any role, members included)",
    response_model=SessionView,
)
async def whoami(request: Request) -> dict[str, Any]:
    runtime = gateway_of(request).lifecycle
    who = await runtime.sessions.signed_in(request)
    token = runtime.sessions.token(request) or ""
    return {
        "user": {
            "id": who.session.user_id,
            "email": who.email,
            "role": who.session.role,
            "tenant_id": who.session.tenant_id,
        },
        "session_id": who.session.id,
        "expires_at": who.session.expires_at.isoformat(),
        "csrf_token": csrf_token(token),
    }


@router.delete("/session", summary="Sign out (needs the CSRF token)")
async def sign_out(request: Request) -> JSONResponse:
    gw = gateway_of(request)
    runtime = gw.lifecycle
    await runtime.sessions.signed_in(request)  # valid session and CSRF token, or refused
    token = runtime.sessions.token(request) or ""

    def run() -> None:
        with gw.db.begin() as db:
            sessions.revoke(db, token, "signed_out", datetime.now(UTC))

    await asyncio.to_thread(run)
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(runtime.sessions.cfg.cookie_name, path="/")
    return response
