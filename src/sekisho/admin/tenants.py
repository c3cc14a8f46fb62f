"""/admin/v1/tenants: show, list, overdue; evidence export; the two-step lifecycle requests.

Suspension, reinstatement and off-boarding through the API are two acts
(`sekisho.admin.suspension_requests`): an operator's request, then the sign-off
of the matching owner with their own token or session. No body field names an
actor: the actor is always the caller (Rule 14).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from sekisho.admin.auth import VIEWERS, AdminPrincipal, gateway_of, require
from sekisho.admin.schemas import OverdueList, TenantList, TenantView
from sekisho.admin.suspension_requests import router as requests_router
from sekisho.errors import InvalidRequest
from sekisho.evidence import (
    BundleError,
    EvidenceFilters,
    EvidenceWindow,
    collect_bundle,
    record_bundle,
)
from sekisho.lifecycle import service
from sekisho.lifecycle.overdue import list_overdue
from sekisho.lifecycle.policy import REASONS
from sekisho.store.models import Tenant
from sekisho.tenancy.service import find_tenant

router = APIRouter(tags=["tenants"])
router.include_router(requests_router)
EVIDENCE_ROLES = ("admin", "operator", "auditor", "security_owner")
Viewer = Annotated[AdminPrincipal, Depends(require(*VIEWERS))]
EvidenceTaker = Annotated[AdminPrincipal, Depends(require(*EVIDENCE_ROLES))]


class EvidenceIn(BaseModel):
    tenant: str | None = None
    alias: str | None = None
    since_s: int | None = Field(None, ge=1, le=90 * 86400)
    start: datetime | None = Field(None, alias="from")
    end: datetime | None = Field(None, alias="to")


@router.get("/tenants", summary="Every tenant with its lifecycle state", response_model=TenantList)
async def list_tenants(request: Request, _: Viewer) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> list[dict[str, Any]]:
        with gw.db.read() as session:
            return [
                {"id": t.id, "name": t.name, "state": t.state, "version": t.version}
                for t in session.scalars(select(Tenant).order_by(Tenant.name))
            ]

    return {"tenants": await asyncio.to_thread(run)}


@router.get(
    "/tenants/overdue", summary="Suspensions past their review date", response_model=OverdueList
)
async def overdue(request: Request, _: Viewer) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> list[dict[str, Any]]:
        with gw.db.read() as session:
            return list_overdue(session)

    return {"overdue": await asyncio.to_thread(run)}


@router.get(
    "/tenants/{ref}",
    summary="A tenant's state and suspension history",
    response_model=TenantView,
)
async def show_tenant(request: Request, ref: str, _: Viewer) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> dict[str, Any]:
        with gw.db.read() as session:
            return service.tenant_view(session, ref)

    return await asyncio.to_thread(run)


@router.post(
    "/evidence/export",
    summary="Export an evidence bundle (tar); its hash is recorded",
    response_class=Response,
)
async def export_evidence(request: Request, body: EvidenceIn, who: EvidenceTaker) -> Response:
    gw = gateway_of(request)
    now = datetime.now(UTC)
    if body.since_s is not None:
        start, end = now - timedelta(seconds=body.since_s), now
    elif body.start is not None and body.end is not None:
        start, end = body.start, body.end
    else:
        raise InvalidRequest("give since_s, or both from and to")

    def run() -> tuple[bytes, str]:
        with gw.db.begin() as session:
            tenant_id = find_tenant(session, body.tenant).id if body.tenant else None
            filters = EvidenceFilters(tenant_id=tenant_id, alias=body.alias)
            bundle = collect_bundle(session, filters, EvidenceWindow(start, end))
            record_bundle(session, bundle, purpose="export", actor=who.actor)
            return bundle.tar_bytes(), bundle.sha256

    try:
        data, sha = await asyncio.to_thread(run)
    except BundleError as exc:
        raise InvalidRequest(str(exc)) from exc
    return Response(data, media_type="application/x-tar", headers={"x-sekisho-bundle-sha256": sha})


__all__ = ["REASONS", "router"]
