"""/admin/v1 two-step lifecycle: requests by operators, sign-off by the matching owner.

    POST /tenants/{ref}/suspension-requests     {reason, note, review_at? | review_in_days?}
    POST /tenants/{ref}/reinstatement-requests  {note}
    POST /tenants/{ref}/offboarding-requests    {note, complete?}
    GET  /suspension-requests?state=pending     (each with can_sign_off for the caller)
    GET  /suspension-requests/{id}
    POST /suspension-requests/{id}/sign-off     {note?}   the owner, in their own token/session
    POST /suspension-requests/{id}/withdraw     {note?}   the requester or the owner side

The actor of every act is the caller; no body field names a person (unknown
fields are refused). Who may sign off is `lifecycle.policy.sign_off_problem`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.requests import Request

from sekisho.admin.auth import OWNERS, VIEWERS, WRITE_OPS, AdminPrincipal, gateway_of, require
from sekisho.admin.schemas import SuspensionRequestList, SuspensionRequestView
from sekisho.errors import PermissionDenied
from sekisho.lifecycle import requests
from sekisho.lifecycle.policy import NotAuthorized, Person

router = APIRouter(tags=["suspension requests"])
Viewer = Annotated[AdminPrincipal, Depends(require(*VIEWERS))]
Requester = Annotated[AdminPrincipal, Depends(require(*WRITE_OPS))]
Owner = Annotated[AdminPrincipal, Depends(require(*OWNERS))]
Party = Annotated[AdminPrincipal, Depends(require(*WRITE_OPS, *OWNERS))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # e.g. `requested_by` is refused, never believed


class SuspensionRequestIn(_Strict):
    reason: Literal["non_payment", "contract_termination", "security_event"]
    note: str = Field(min_length=1, max_length=2000, description="Why (goes into the ledger).")
    review_at: datetime | None = Field(None, description="Review date (1 hour to 365 days ahead).")
    review_in_days: int | None = Field(
        None, ge=1, le=365, description="Review date in days from now (default 14 days)."
    )


class NoteIn(_Strict):
    note: str = Field(min_length=1, max_length=2000, description="Why (goes into the ledger).")


class OffboardingRequestIn(NoteIn):
    complete: bool = Field(False, description="Finish an off-boarding already started.")


class DecisionIn(_Strict):
    note: str | None = Field(None, max_length=2000, description="Optional; goes into the ledger.")


def _viewer(who: AdminPrincipal) -> Person:
    return Person(who.user_id, who.email, who.role)


async def _act(
    request: Request,
    who: AdminPrincipal,
    work: Callable[[Session], requests.SuspensionRequest],
) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> requests.SuspensionRequest:
        with gw.db.begin() as session:
            return work(session)

    try:
        done = await asyncio.to_thread(run)
    except NotAuthorized as exc:
        raise PermissionDenied(str(exc)) from exc
    if done.event is not None:
        await gw.lifecycle.announce(done.event)
    out = done.as_dict(_viewer(who))
    if done.result is not None:
        r = done.result
        out["result"] = {
            "state": r.state,
            "suspension_id": r.suspension_id,
            "evidence_sha256": r.evidence_sha256,
            "review_at": r.review_at.isoformat() if r.review_at else None,
            "sessions_revoked": r.sessions_revoked,
        }
    return out


@router.post(
    "/tenants/{ref}/suspension-requests",
    status_code=201,
    summary="Request a suspension (operator/admin); the matching owner signs it off",
)
async def request_suspension(
    request: Request, ref: str, body: SuspensionRequestIn, who: Requester
) -> dict[str, Any]:
    review_at = body.review_at
    if review_at is None and body.review_in_days is not None:
        review_at = datetime.now(UTC) + timedelta(days=body.review_in_days)
    return await _act(
        request,
        who,
        lambda s: requests.request_suspension(s, ref, body.reason, body.note, review_at, who.actor),
    )


@router.post(
    "/tenants/{ref}/reinstatement-requests",
    status_code=201,
    summary="Request reinstatement (operator/admin); the owner of the reason signs it off",
)
async def request_reinstatement(
    request: Request, ref: str, body: NoteIn, who: Requester
) -> dict[str, Any]:
    return await _act(
        request, who, lambda s: requests.request_reinstatement(s, ref, body.note, who.actor)
    )


@router.post(
    "/tenants/{ref}/offboarding-requests",
    status_code=201,
    summary="Request off-boarding (or its completion) of a suspended tenant; deletes nothing",
)
async def request_offboarding(
    request: Request, ref: str, body: OffboardingRequestIn, who: Requester
) -> dict[str, Any]:
    return await _act(
        request,
        who,
        lambda s: requests.request_offboarding(
            s, ref, body.note, who.actor, complete=body.complete
        ),
    )


@router.get(
    "/suspension-requests",
    summary="Lifecycle requests (default: pending); an owner sees those of their role",
    response_model=SuspensionRequestList,
)
async def list_requests(
    request: Request,
    who: Viewer,
    state: Literal["pending", "executed", "withdrawn", "all"] = Query("pending"),
    tenant: str | None = Query(None, description="Only this tenant (id or name)."),
) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> list[dict[str, Any]]:
        with gw.db.read() as session:
            found = requests.list_requests(
                session,
                state=None if state == "all" else state,
                tenant_ref=tenant,
                for_actor=who.actor,
            )
            return [r.as_dict(_viewer(who)) for r in found]

    return {"requests": await asyncio.to_thread(run)}


@router.get(
    "/suspension-requests/{request_id}",
    summary="One request: tenant, reason, note",
    response_model=SuspensionRequestView,
)
async def show_request(request: Request, request_id: str, who: Viewer) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> dict[str, Any]:
        with gw.db.read() as session:
            return requests.get_request(session, request_id).as_dict(_viewer(who))

    return await asyncio.to_thread(run)


@router.post(
    "/suspension-requests/{request_id}/sign-off",
    summary="Sign off a request (the owner matching its reason; not the requester); executes it",
)
async def sign_off(
    request: Request, request_id: str, body: DecisionIn, who: Owner
) -> dict[str, Any]:
    settings = gateway_of(request).settings
    return await _act(
        request,
        who,
        lambda s: requests.sign_off(s, request_id, who.actor, settings=settings, note=body.note),
    )


@router.post(
    "/suspension-requests/{request_id}/withdraw",
    summary="Withdraw a pending request (its requester, or the owner side)",
)
async def withdraw(
    request: Request, request_id: str, body: DecisionIn, who: Party
) -> dict[str, Any]:
    return await _act(
        request, who, lambda s: requests.withdraw(s, request_id, who.actor, body.note)
    )
