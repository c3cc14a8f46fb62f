"""/admin/v1 API keys: list, create (scoped, optional expiry), rotate with overlap, revoke."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.requests import Request

from sekisho.admin.auth import READ_OPS, WRITE_OPS, AdminPrincipal, gateway_of, require
from sekisho.admin.schemas import ApiKeyList
from sekisho.lifecycle import keys as key_service
from sekisho.tenancy import service as tenancy

router = APIRouter(tags=["keys"])
Reader = Annotated[AdminPrincipal, Depends(require(*READ_OPS))]
Writer = Annotated[AdminPrincipal, Depends(require(*WRITE_OPS))]


class KeyIn(BaseModel):
    aliases: list[str] | None = Field(None, description="Restrict the key to these aliases.")
    expires_in_s: int | None = Field(None, ge=60, le=5 * 365 * 86400)
    name: str = Field("", max_length=200)


class RotateIn(BaseModel):
    overlap_s: int = Field(
        86400, ge=0, le=30 * 86400, description="How long the old key keeps working."
    )
    note: str | None = None


class RevokeIn(BaseModel):
    note: str | None = None


async def _write(
    request: Request,
    work: Callable[[Session], key_service.KeyChange],
) -> key_service.KeyChange:
    gw = gateway_of(request)

    def run() -> key_service.KeyChange:
        with gw.db.begin() as session:
            return work(session)

    change = await asyncio.to_thread(run)
    await gw.lifecycle.announce(change.event)
    return change


@router.get(
    "/tenants/{ref}/keys",
    summary="A tenant's API keys: prefix, status, created, last used",
    response_model=ApiKeyList,
)
async def list_keys(request: Request, ref: str, _: Reader) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> list[dict[str, Any]]:
        with gw.db.read() as session:
            return key_service.list_keys(session, ref)

    return {"keys": await asyncio.to_thread(run)}


@router.post(
    "/tenants/{ref}/keys", status_code=201, summary="Create a key; the secret is shown once"
)
async def create_key(request: Request, ref: str, body: KeyIn, who: Writer) -> dict[str, Any]:
    gw = gateway_of(request)
    expires = (
        datetime.now(UTC) + timedelta(seconds=body.expires_in_s) if body.expires_in_s else None
    )

    def run() -> dict[str, Any]:
        with gw.db.begin() as session:
            key, secret = tenancy.create_key(
                session,
                gw.routing.matrix,
                ref,
                who.actor,
                aliases=body.aliases,
                expires_at=expires,
                name=body.name,
            )
            return {**key_service.key_view(key, datetime.now(UTC)), "key": secret}

    return await asyncio.to_thread(run)


@router.post(
    "/keys/{ref}/rotate",
    status_code=201,
    summary="A new key with the same scope; the old one expires after the overlap",
)
async def rotate_key(request: Request, ref: str, body: RotateIn, who: Writer) -> dict[str, Any]:
    gw = gateway_of(request)
    change = await _write(
        request,
        lambda s: key_service.rotate_key(
            s,
            gw.settings,
            gw.routing.matrix,
            ref,
            who.actor,
            overlap=timedelta(seconds=body.overlap_s),
            note=body.note,
        ),
    )
    now = datetime.now(UTC)
    assert change.replaced is not None
    return {
        **key_service.key_view(change.key, now),
        "key": change.secret,
        "replaced": key_service.key_view(change.replaced, now),
    }


@router.post("/keys/{ref}/revoke", summary="Revoke a key at once")
async def revoke_key(request: Request, ref: str, body: RevokeIn, who: Writer) -> dict[str, Any]:
    gw = gateway_of(request)
    change = await _write(
        request, lambda s: key_service.revoke_key(s, gw.settings, ref, who.actor, note=body.note)
    )
    return key_service.key_view(change.key, datetime.now(UTC))
