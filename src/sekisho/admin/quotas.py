"""/admin/v1 quotas and usage: a tenant's quota override (in the ledger) and metered usage."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from sekisho.admin.auth import READ_OPS, WRITE_OPS, AdminPrincipal, gateway_of, require
from sekisho.errors import InvalidRequest
from sekisho.quotas.overrides import set_tenant_quota, tenant_quota
from sekisho.tenancy.service import find_tenant
from sekisho.usage.report import as_dicts, usage_rows

router = APIRouter(tags=["quotas"])
USAGE_ROLES = (*READ_OPS, "billing_owner")
Viewer = Annotated[AdminPrincipal, Depends(require(*USAGE_ROLES))]
Writer = Annotated[AdminPrincipal, Depends(require(*WRITE_OPS))]


class QuotaIn(BaseModel):
    """Only the limits named change; null means unlimited for this tenant."""

    model_config = ConfigDict(extra="forbid")

    rpm: int | None = Field(None, gt=0)
    tpm: int | None = Field(None, gt=0)
    concurrent_streams: int | None = Field(None, gt=0)
    monthly_tokens: int | None = Field(None, gt=0)
    key_rpm: int | None = Field(None, gt=0)
    key_tpm: int | None = Field(None, gt=0)
    key_concurrent_streams: int | None = Field(None, gt=0)
    clear: bool = Field(False, description="Drop the override: the defaults apply again.")
    note: str | None = Field(None, max_length=2000, description="Why (goes into the ledger).")


class QuotaOut(BaseModel):
    tenant_id: str
    tenant: str
    override: dict[str, int | None]
    effective: dict[str, int | None]
    version: int


@router.get("/tenants/{ref}/quota", summary="A tenant's quota override and effective limits")
async def show_quota(request: Request, ref: str, _: Viewer) -> QuotaOut:
    gw = gateway_of(request)

    def run() -> dict[str, Any]:
        with gw.db.read() as session:
            return tenant_quota(session, ref, gw.settings.quotas.limits())

    return QuotaOut(**await asyncio.to_thread(run))


@router.put("/tenants/{ref}/quota", summary="Override a tenant's quotas (in the ledger)")
async def put_quota(request: Request, ref: str, body: QuotaIn, who: Writer) -> QuotaOut:
    gw = gateway_of(request)
    changes = body.model_dump(exclude_unset=True, exclude={"clear", "note"})
    if body.clear and changes:
        raise InvalidRequest("Give either limits to set or clear, not both.", param="clear")

    def run() -> dict[str, Any]:
        with gw.db.begin() as session:
            set_tenant_quota(session, ref, changes, who.actor, clear=body.clear, note=body.note)
        with gw.db.read() as session:
            return tenant_quota(session, ref, gw.settings.quotas.limits())

    view = await asyncio.to_thread(run)
    if gw.quotas is not None:
        await gw.quotas.refresh()  # this replica at once; the others within quotas.refresh_s
    return QuotaOut(**view)


class UsageOut(BaseModel):
    since: str
    rows: list[dict[str, Any]]


@router.get("/usage", summary="Metered requests and tokens per tenant, key, alias and UTC day")
async def usage(
    request: Request,
    _: Viewer,
    tenant: str | None = None,
    days: Annotated[int, Query(ge=1, le=3660)] = 30,
) -> UsageOut:
    gw = gateway_of(request)
    since: date = (datetime.now(UTC) - timedelta(days=days - 1)).date()

    def run() -> list[dict[str, Any]]:
        with gw.db.read() as session:
            tenant_id = find_tenant(session, tenant).id if tenant else None
            return as_dicts(usage_rows(session, since=since, tenant_id=tenant_id))

    return UsageOut(since=since.isoformat(), rows=await asyncio.to_thread(run))
