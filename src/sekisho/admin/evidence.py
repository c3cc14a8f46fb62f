"""/admin/v1/evidence: recorded bundles (list) and their bytes (a suspension snapshot, ...).

Operators and auditors (and admins) read evidence; who may is decided by
`sekisho.admin.auth.require`, the one authorization decision of the admin API.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from sekisho.admin.auth import READ_OPS, AdminPrincipal, gateway_of, require
from sekisho.admin.schemas import EvidenceList
from sekisho.errors import InternalError, NotFound
from sekisho.evidence.bundle import BundleError
from sekisho.evidence.store import BundleNotFound, ContentNotKept, bundle_bytes, list_bundles

router = APIRouter(tags=["evidence"])
Reader = Annotated[AdminPrincipal, Depends(require(*READ_OPS))]


@router.get(
    "/evidence", summary="Recorded evidence bundles, newest first", response_model=EvidenceList
)
async def list_evidence(
    request: Request,
    _: Reader,
    tenant: str | None = None,
    purpose: str | None = None,
    sha256: str | None = None,
) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> list[dict[str, Any]]:
        with gw.db.read() as session:
            rows = list_bundles(session, tenant_id=tenant, purpose=purpose, sha256=sha256)
            return [b.to_dict() for b in rows]

    return {"bundles": await asyncio.to_thread(run)}


@router.get(
    "/evidence/{bundle_id}",
    summary="A recorded bundle's tar bytes (checked against its recorded SHA-256)",
    response_class=Response,
    responses={
        200: {"content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def get_evidence(request: Request, bundle_id: str, _: Reader) -> Response:
    gw = gateway_of(request)

    def run() -> tuple[Any, bytes]:
        with gw.db.read() as session:
            return bundle_bytes(session, bundle_id)

    try:
        summary, data = await asyncio.to_thread(run)
    except (BundleNotFound, ContentNotKept) as exc:
        raise NotFound(str(exc)) from exc
    except BundleError as exc:  # the stored bytes no longer match the ledger's hash
        raise InternalError(str(exc)) from exc
    return Response(
        data,
        media_type="application/x-tar",
        headers={
            "content-disposition": f'attachment; filename="{summary.id}.tar"',
            "x-sekisho-bundle-sha256": summary.sha256,
        },
    )
