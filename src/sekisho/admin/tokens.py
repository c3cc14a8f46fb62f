"""/admin/v1/tokens and /admin/v1/users: operator tokens (create, list, revoke), users
(list, disable, enable). The token service itself is `sekisho.identity.tokens`.

    GET  /tokens                 your tokens (an admin: everyone's, or ?user=EMAIL)
    POST /tokens                 a token for yourself (an admin may name another `user`)
    POST /tokens/{ref}/revoke    your own token, or any token if you are an admin
    GET  /users                  admin
    POST /users/{ref}/disable    admin: sessions end, sign-in and tokens refused at once
    POST /users/{ref}/enable     admin
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.requests import Request

from sekisho.admin.auth import AdminPrincipal, gateway_of, require
from sekisho.admin.schemas import OperatorTokenList, UserList
from sekisho.errors import PermissionDenied
from sekisho.identity import tokens as token_service
from sekisho.identity import users as user_service
from sekisho.identity.tokens import create_token, token_prefix, user_for_token
from sekisho.store.models import PLATFORM_ROLES
from sekisho.tenancy.service import find_user

__all__ = ["create_token", "router", "token_prefix", "user_for_token"]

router = APIRouter(tags=["tokens and users"])
Anyone = Annotated[AdminPrincipal, Depends(require(*PLATFORM_ROLES))]
Admin = Annotated[AdminPrincipal, Depends(require("admin"))]
T = TypeVar("T")


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("", max_length=200)
    expires_in_days: int | None = Field(
        None, ge=1, le=3650, description="Default: identity.operator_token_ttl_days (90)."
    )
    user: str | None = Field(None, description="Admins only: the platform user it is for.")


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=2000)


async def _run(request: Request, work: Callable[[Session], T], *, write: bool = True) -> T:
    gw = gateway_of(request)

    def run() -> T:
        with gw.db.begin() if write else gw.db.read() as session:
            return work(session)

    try:
        return await asyncio.to_thread(run)
    except user_service.NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc


@router.get(
    "/tokens",
    summary="Operator tokens: yours, or (admin) everyone's",
    response_model=OperatorTokenList,
)
async def list_tokens(
    request: Request,
    who: Anyone,
    user: str | None = Query(None, description="Admins: only this user's tokens."),
    all: bool = Query(False, description="Include revoked and expired tokens."),
) -> dict[str, Any]:
    def work(session: Session) -> list[dict[str, Any]]:
        if who.role == "admin":
            holder = find_user(session, user) if user else None
        else:
            holder = find_user(session, who.user_id)
        return token_service.list_tokens(session, user=holder, include_inactive=all)

    return {"tokens": await _run(request, work, write=False)}


@router.post("/tokens", status_code=201, summary="Create a token; the secret is shown once")
async def create(request: Request, body: TokenIn, who: Anyone) -> dict[str, Any]:
    gw = gateway_of(request)
    expires = (
        datetime.now(UTC) + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    )

    def work(session: Session) -> dict[str, Any]:
        holder = find_user(session, body.user or who.user_id)
        token, secret = create_token(
            session,
            holder,
            who.actor,
            name=body.name,
            expires_at=expires,
            ttl_days=gw.settings.identity.operator_token_ttl_days,
        )
        return {**token_service.token_view(token, holder, datetime.now(UTC)), "token": secret}

    return await _run(request, work)


@router.post("/tokens/{ref}/revoke", summary="Revoke a token at once, on every replica")
async def revoke(request: Request, ref: str, body: NoteIn, who: Anyone) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        token, user = token_service.revoke_token(session, ref, who.actor, body.note)
        return token_service.token_view(token, user, datetime.now(UTC))

    return await _run(request, work)


@router.get("/users", summary="Every user with role and state (admin)", response_model=UserList)
async def list_users(request: Request, _: Admin) -> dict[str, Any]:
    return {"users": await _run(request, user_service.list_users, write=False)}


@router.post("/users/{ref}/disable", summary="Disable a user: sessions end, tokens refused")
async def disable(request: Request, ref: str, body: NoteIn, who: Admin) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        change = user_service.disable_user(session, ref, who.actor, body.note)
        return {**user_service.user_view(change.user), "sessions_revoked": change.sessions_revoked}

    return await _run(request, work)


@router.post("/users/{ref}/enable", summary="Enable a disabled user")
async def enable(request: Request, ref: str, body: NoteIn, who: Admin) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        return user_service.user_view(
            user_service.enable_user(session, ref, who.actor, body.note).user
        )

    return await _run(request, work)
