"""/admin/v1/tenants: show, list, suspend, reinstate, off-board, overdue; evidence export.

A lifecycle step through the API is signed off by the caller: the signed-in
(or token-holding) owner whose role matches the reason is the authorizer,
and `requested_by` names the operator who asked. Refusals change nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from sekisho.admin.auth import READ_OPS, AdminPrincipal, gateway_of, require
from sekisho.errors import InvalidRequest, PermissionDenied
from sekisho.evidence import (
    BundleError,
    EvidenceFilters,
    EvidenceWindow,
    collect_bundle,
    record_bundle,
)
from sekisho.lifecycle import service
from sekisho.lifecycle.overdue import list_overdue
from sekisho.lifecycle.policy import REASONS, NotAuthorized
from sekisho.store.models import Tenant
from sekisho.tenancy.service import find_tenant

router = APIRouter(tags=["tenants"])
OWNERS = ("billing_owner", "legal_owner", "security_owner")
VIEWERS = (*READ_OPS, *OWNERS)
EVIDENCE_ROLES = ("admin", "operator", "auditor", "security_owner")
Viewer = Annotated[AdminPrincipal, Depends(require(*VIEWERS))]
Owner = Annotated[AdminPrincipal, Depends(require(*OWNERS))]
EvidenceTaker = Annotated[AdminPrincipal, Depends(require(*EVIDENCE_ROLES))]


class StepIn(BaseModel):
    requested_by: str = Field(min_length=3, description="E-mail of the operator who asked.")
    note: str = Field(min_length=1, max_length=2000, description="Why (goes into the ledger).")


class SuspendIn(StepIn):
    reason: Literal["non_payment", "contract_termination", "security_event"]
    review_in_days: int | None = Field(
        None, ge=1, le=365, description="Review date from now (default 14 days)."
    )


class OffboardIn(StepIn):
    complete: bool = Field(False, description="Finish an off-boarding already started.")


class EvidenceIn(BaseModel):
    tenant: str | None = None
    alias: str | None = None
    since_s: int | None = Field(None, ge=1, le=90 * 86400)
    start: datetime | None = Field(None, alias="from")
    end: datetime | None = Field(None, alias="to")


def _request(ref: str, body: StepIn, who: AdminPrincipal) -> service.LifecycleRequest:
    return service.LifecycleRequest(
        tenant=ref,
        requested_by=body.requested_by,
        authorized_by=who.email,
        note=body.note,
        via=f"admin-api:{who.via}",
    )


async def _step(
    request: Request, work: Callable[[Session], service.LifecycleResult]
) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> service.LifecycleResult:
        with gw.db.begin() as session:
            return work(session)

    try:
        result = await asyncio.to_thread(run)
    except NotAuthorized as exc:
        raise PermissionDenied(str(exc)) from exc
    await gw.lifecycle.announce(result.event)
    return {
        "tenant_id": result.tenant_id,
        "tenant": result.tenant_name,
        "state": result.state,
        "suspension_id": result.suspension_id,
        "evidence_sha256": result.evidence_sha256,
        "review_at": result.review_at.isoformat() if result.review_at else None,
        "sessions_revoked": result.sessions_revoked,
    }


@router.get("/tenants", summary="Every tenant with its lifecycle state")
async def list_tenants(request: Request, _: Viewer) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> list[dict[str, Any]]:
        with gw.db.read() as session:
            return [
                {"id": t.id, "name": t.name, "state": t.state, "version": t.version}
                for t in session.scalars(select(Tenant).order_by(Tenant.name))
            ]

    return {"tenants": await asyncio.to_thread(run)}


@router.get("/tenants/overdue", summary="Suspensions past their review date")
async def overdue(request: Request, _: Viewer) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> list[dict[str, Any]]:
        with gw.db.read() as session:
            return list_overdue(session)

    return {"overdue": await asyncio.to_thread(run)}


@router.get("/tenants/{ref}", summary="A tenant's state and suspension history")
async def show_tenant(request: Request, ref: str, _: Viewer) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> dict[str, Any]:
        with gw.db.read() as session:
            return service.tenant_view(session, ref)

    return await asyncio.to_thread(run)


@router.post("/tenants/{ref}/suspend", summary="Suspend (the caller is the authorizing owner)")
async def suspend(request: Request, ref: str, body: SuspendIn, who: Owner) -> dict[str, Any]:
    settings = gateway_of(request).settings
    review = timedelta(days=body.review_in_days) if body.review_in_days else None
    return await _step(
        request,
        lambda s: service.suspend_tenant(
            s, settings, _request(ref, body, who), reason=body.reason, review_in=review
        ),
    )


@router.post("/tenants/{ref}/reinstate", summary="Reinstate (the caller is the authorizing owner)")
async def reinstate(request: Request, ref: str, body: StepIn, who: Owner) -> dict[str, Any]:
    settings = gateway_of(request).settings
    return await _step(
        request, lambda s: service.reinstate_tenant(s, settings, _request(ref, body, who))
    )


@router.post("/tenants/{ref}/offboard", summary="Start or complete off-boarding; deletes nothing")
async def offboard(request: Request, ref: str, body: OffboardIn, who: Owner) -> dict[str, Any]:
    settings = gateway_of(request).settings
    return await _step(
        request,
        lambda s: service.offboard_tenant(
            s, settings, _request(ref, body, who), complete=body.complete
        ),
    )


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
