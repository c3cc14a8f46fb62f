"""/admin/v1/aliases and /admin/v1/matrix: routing view, overrides, hot reload."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.requests import Request

from sekisho.admin.auth import READ_OPS, WRITE_OPS, AdminPrincipal, gateway_of, require
from sekisho.admin.schemas import AliasList, AliasView, MatrixInfo
from sekisho.control import overrides as override_service
from sekisho.control.alias_view import alias_view
from sekisho.control.replicas import live_replicas, merged_circuits
from sekisho.errors import InvalidRequest, NotFound
from sekisho.gateway import MatrixReloadRefused
from sekisho.settings import ConfigError

router = APIRouter(tags=["aliases"])
Reader = Annotated[AdminPrincipal, Depends(require(*READ_OPS))]
Writer = Annotated[AdminPrincipal, Depends(require(*WRITE_OPS))]


class OverrideIn(BaseModel):
    kind: Literal["drain", "pin"]
    provider: str = Field(min_length=1)
    duration_s: int = Field(ge=60, le=7 * 86400, description="How long, in seconds.")
    reason: str = Field(min_length=1)
    incident_id: str | None = None


class RevertIn(BaseModel):
    override_id: str | None = None
    note: str | None = None


def _view(request: Request, alias: str) -> dict[str, Any]:
    gw = gateway_of(request)
    matrix = gw.routing.matrix
    if alias not in matrix.aliases:
        raise NotFound(f"unknown alias {alias!r}")
    with gw.db.read() as session:
        circuits = merged_circuits(live_replicas(session))
        history = [override_service.to_policy(r) for r in override_service.history(session, alias)]
    return alias_view(matrix, alias, circuits, history, time.time())


@router.get(
    "/aliases",
    summary="Every alias with its routes and active overrides",
    response_model=AliasList,
)
async def list_aliases(request: Request, _: Reader) -> dict[str, Any]:
    gw = gateway_of(request)
    matrix = gw.routing.matrix
    names = sorted(matrix.aliases)

    def run() -> list[dict[str, Any]]:
        with gw.db.read() as session:  # two queries for every alias together
            circuits = merged_circuits(live_replicas(session))
            history = override_service.histories(session, names)
        now = time.time()
        return [
            alias_view(
                matrix, n, circuits, [override_service.to_policy(r) for r in history[n]], now
            )
            for n in names
        ]

    views = await asyncio.to_thread(run)
    return {"aliases": views, "matrix_sha256": matrix.content_hash}


@router.get(
    "/aliases/{alias}",
    summary="One alias: routes, circuits, overrides, plan per tenant kind",
    response_model=AliasView,
)
async def show_alias(request: Request, alias: str, _: Reader) -> dict[str, Any]:
    return await asyncio.to_thread(_view, request, alias)


@router.post("/aliases/{alias}/overrides", status_code=201, summary="Drain or pin a route")
async def set_override(
    request: Request, alias: str, body: OverrideIn, who: Writer
) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> dict[str, Any]:
        with gw.db.begin() as session:
            row, warnings = override_service.set_override(
                session,
                gw.routing.matrix,
                alias=alias,
                kind=body.kind,
                provider=body.provider,
                duration=timedelta(seconds=body.duration_s),
                reason=body.reason,
                actor=who.actor,
                incident_id=body.incident_id,
            )
            return {"id": row.id, "expires_at": row.expires_at.isoformat(), "warnings": warnings}

    result = await asyncio.to_thread(run)
    await gw.refresh_routing()
    return result


@router.post("/aliases/{alias}/revert", summary="End the alias's active overrides")
async def revert(request: Request, alias: str, body: RevertIn, who: Writer) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> list[str]:
        with gw.db.begin() as session:
            rows = override_service.revert_overrides(
                session, alias=alias, actor=who.actor, note=body.note, override_id=body.override_id
            )
            return [r.id for r in rows]

    reverted = await asyncio.to_thread(run)
    await gw.refresh_routing()
    return {"reverted": reverted}


@router.post("/matrix/reload", summary="Re-read, validate and atomically swap the provider matrix")
async def reload_matrix(request: Request, who: Writer) -> dict[str, Any]:
    gw = gateway_of(request)
    try:
        matrix = await gw.reload_matrix(who.actor)
    except MatrixReloadRefused as exc:
        raise InvalidRequest("matrix refused, the running one stays: " + str(exc)) from exc
    except ConfigError as exc:  # e.g. the gateway was not started from a config file
        raise InvalidRequest(f"nothing to reload, the running matrix stays: {exc}") from exc
    return {
        "sha256": matrix.content_hash,
        "providers": len(matrix.providers),
        "aliases": len(matrix.aliases),
    }


@router.get("/matrix", summary="The running matrix's hash and counts", response_model=MatrixInfo)
async def matrix_info(request: Request, _: Reader) -> dict[str, Any]:
    m = gateway_of(request).routing.matrix
    return {
        "sha256": m.content_hash,
        "providers": sorted(m.providers),
        "aliases": sorted(m.aliases),
    }
