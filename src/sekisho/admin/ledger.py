"""/admin/v1/ledger: read-only views for the console and auditors."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query
from starlette.requests import Request

from sekisho.admin.auth import AUDIT, AdminPrincipal, gateway_of, require
from sekisho.admin.schemas import (
    ConsistencyProofView,
    InclusionProofView,
    LedgerCheckpoints,
    LedgerEntries,
    LedgerList,
    LedgerVerification,
)
from sekisho.errors import InvalidRequest, NotFound
from sekisho.ledger.entry import PLATFORM_LEDGER, LedgerEntry
from sekisho.ledger.service import LedgerService, ProofUnavailable

router = APIRouter(prefix="/ledger", tags=["ledger"])
Auditor = Annotated[AdminPrincipal, Depends(require(*AUDIT))]


def _service(request: Request) -> LedgerService:
    gw = gateway_of(request)
    return LedgerService.from_settings(gw.db, gw.settings.ledger)


def _entry_json(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "ledger": entry.ledger,
        "seq": entry.seq,
        "leaf_hash": entry.leaf_hash.hex(),
        "prev": entry.prev.hex(),
        "body": orjson.loads(entry.body),
    }


@router.get(
    "",
    summary="Every ledger: size, anchored size, entries not yet anchored",
    response_model=LedgerList,
)
async def summaries(request: Request, _: Auditor) -> dict[str, Any]:
    service = _service(request)
    rows = await asyncio.to_thread(service.summaries)
    return {
        "public_key": service.public_key,
        "ledgers": [
            {
                "name": s.name,
                "size": s.size,
                "anchored_size": s.anchored_size,
                "unanchored": s.unanchored,
            }
            for s in rows
        ],
    }


@router.get(
    "/verify",
    summary="Recompute chains, trees and checkpoint signatures now",
    response_model=LedgerVerification,
)
async def verify(request: Request, _: Auditor) -> dict[str, Any]:
    report = await asyncio.to_thread(_service(request).verify)
    return report.to_json()  # type: ignore[no-any-return]


@router.get(
    "/{ledger}/entries",
    summary="Entries of one ledger, exact canonical bodies decoded",
    response_model=LedgerEntries,
)
async def entries(
    request: Request,
    ledger: str,
    _: Auditor,
    start: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    rows = await asyncio.to_thread(_service(request).entries, ledger, start=start, limit=limit)
    return {"ledger": ledger, "start": start, "entries": [_entry_json(e) for e in rows]}


@router.get(
    "/{ledger}/checkpoints",
    summary="Signed checkpoints of one ledger, oldest first",
    response_model=LedgerCheckpoints,
)
async def checkpoints(request: Request, ledger: str, _: Auditor) -> dict[str, Any]:
    rows = await asyncio.to_thread(_service(request).checkpoints, ledger)
    return {
        "ledger": ledger,
        "checkpoints": [
            {
                "size": c.size,
                "root": c.root.hex(),
                "note": c.note,
                "created_at": c.created_at.isoformat() if c.created_at else None,
            }
            for c in rows
        ],
    }


@router.get(
    "/{ledger}/proof/{seq}",
    summary="Inclusion proof of an entry against the latest checkpoint",
    response_model=InclusionProofView,
)
async def proof(request: Request, ledger: str, seq: int, _: Auditor) -> dict[str, Any]:
    try:
        result = await asyncio.to_thread(_service(request).prove, seq, ledger)
    except ProofUnavailable as exc:
        raise NotFound(str(exc)) from exc
    return result.to_json()


@router.get(
    "/{ledger}/consistency",
    summary="Consistency proof between two tree sizes",
    response_model=ConsistencyProofView,
)
async def consistency(
    request: Request,
    ledger: str,
    _: Auditor,
    size1: Annotated[int, Query(ge=1)],
    size2: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    try:
        result = await asyncio.to_thread(_service(request).prove_consistency, ledger, size1, size2)
    except ProofUnavailable as exc:
        raise NotFound(str(exc)) from exc
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
    return result.to_json()


__all__ = ["PLATFORM_LEDGER", "router"]
