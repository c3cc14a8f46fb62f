"""/admin/v1/incidents: open, note, customer update, resolve, evidence (the CLI's twins)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.requests import Request

from sekisho.admin.auth import READ_OPS, WRITE_OPS, AdminPrincipal, gateway_of, require
from sekisho.admin.schemas import IncidentList, IncidentView
from sekisho.errors import NotFound
from sekisho.incidents import service, workflow
from sekisho.incidents.service import IncidentNotFound

router = APIRouter(tags=["incidents"])
Reader = Annotated[AdminPrincipal, Depends(require(*READ_OPS))]
Writer = Annotated[AdminPrincipal, Depends(require(*WRITE_OPS))]


class IncidentIn(BaseModel):
    title: str = Field(min_length=1, description="Customer-facing: leak-checked")
    severity: str = Field(pattern=r"^(?i:SEV[1-4])$")
    aliases: list[str] = Field(min_length=1)
    eta: datetime | None = None
    note: str | None = Field(None, description="Internal: may name providers")


class NoteIn(BaseModel):
    text: str = Field(min_length=1)
    severity: str | None = Field(None, pattern=r"^(?i:SEV[1-4])$")


class UpdateIn(BaseModel):
    text: str = Field(min_length=1, description="Customer-facing: leak-checked")
    eta: datetime | None = None


class CorrectionIn(BaseModel):
    text: str = Field(min_length=1, description="Customer-facing: leak-checked")


class WithdrawalIn(BaseModel):
    note: str = Field(min_length=1, description="Why (internal; goes into the ledger)")


class ResolveIn(BaseModel):
    update: str | None = Field(None, description="A last customer update (leak-checked)")
    note: str | None = None
    evidence: bool = True


def _result(outcome: workflow.Outcome) -> dict[str, Any]:
    return {**outcome.document, **outcome.extra, "ops_posted": outcome.posted}


async def _run(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        return _result(await asyncio.to_thread(fn, *args, **kwargs))
    except IncidentNotFound as exc:
        raise NotFound(str(exc)) from exc


@router.get("/incidents", summary="Incidents (open by default)", response_model=IncidentList)
async def list_incidents(request: Request, _: Reader, all: bool = False) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> list[dict[str, Any]]:
        with gw.db.read() as session:
            return service.incident_documents(
                session, service.list_incidents(session, include_resolved=all)
            )

    return {"incidents": await asyncio.to_thread(run)}


@router.get(
    "/incidents/{incident_id}",
    summary="One incident: internal timeline, overrides",
    response_model=IncidentView,
)
async def show_incident(request: Request, incident_id: str, _: Reader) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> dict[str, Any]:
        with gw.db.read() as session:
            return service.incident_document(session, service.get(session, incident_id))

    try:
        return await asyncio.to_thread(run)
    except IncidentNotFound as exc:
        raise NotFound(str(exc)) from exc


@router.post("/incidents", status_code=201, summary="Open an incident")
async def open_incident(request: Request, body: IncidentIn, who: Writer) -> dict[str, Any]:
    gw = gateway_of(request)
    return await _run(
        workflow.open_incident,
        gw.db,
        gw.settings,
        gw.routing.matrix,
        who.actor,
        title=body.title,
        severity=body.severity,
        aliases=body.aliases,
        eta=body.eta,
        note=body.note,
    )


@router.post(
    "/incidents/{incident_id}/notes",
    status_code=201,
    summary="Internal timeline note (posted to the ops channel)",
)
async def add_note(request: Request, incident_id: str, body: NoteIn, who: Writer) -> dict[str, Any]:
    gw = gateway_of(request)
    return await _run(
        workflow.add_note, gw.db, gw.settings, who.actor, incident_id, body.text, body.severity
    )


@router.post(
    "/incidents/{incident_id}/updates",
    status_code=201,
    summary="Customer-facing update (leak-checked, shown on /status)",
)
async def post_update(
    request: Request, incident_id: str, body: UpdateIn, who: Writer
) -> dict[str, Any]:
    gw = gateway_of(request)
    return await _run(
        workflow.post_update,
        gw.db,
        gw.settings,
        gw.routing.matrix,
        who.actor,
        incident_id,
        body.text,
        body.eta,
    )


@router.post(
    "/incidents/{incident_id}/resolve",
    summary="Resolve: revert its overrides, report before/during/after, capture evidence",
)
async def resolve(
    request: Request, incident_id: str, body: ResolveIn, who: Writer
) -> dict[str, Any]:
    gw = gateway_of(request)
    result = await _run(
        workflow.resolve,
        gw.db,
        gw.settings,
        gw.routing.matrix,
        who.actor,
        incident_id,
        update=body.update,
        note=body.note,
        evidence=body.evidence,
    )
    await gw.refresh_routing()
    return result


@router.post(
    "/incidents/{incident_id}/evidence",
    status_code=201,
    summary="Capture the incident's request-log evidence window now",
)
async def capture_evidence(request: Request, incident_id: str, who: Writer) -> dict[str, Any]:
    gw = gateway_of(request)
    return await _run(workflow.capture_evidence, gw.db, gw.settings, who.actor, incident_id)


@router.post(
    "/incidents/{incident_id}/updates/{update_id}/correction",
    status_code=201,
    summary="Correct a published customer update (leak-checked; /status shows the correction)",
)
async def correct_update(
    request: Request, incident_id: str, update_id: int, body: CorrectionIn, who: Writer
) -> dict[str, Any]:
    gw = gateway_of(request)
    return await _run(
        workflow.correct_update,
        gw.db,
        gw.settings,
        gw.routing.matrix,
        who.actor,
        incident_id,
        update_id,
        body.text,
    )


@router.post(
    "/incidents/{incident_id}/updates/{update_id}/withdrawal",
    status_code=201,
    summary="Withdraw a published customer update from /status (kept in the ledger)",
)
async def withdraw_update(
    request: Request, incident_id: str, update_id: int, body: WithdrawalIn, who: Writer
) -> dict[str, Any]:
    gw = gateway_of(request)
    return await _run(
        workflow.withdraw_update, gw.db, gw.settings, who.actor, incident_id, update_id, body.note
    )
