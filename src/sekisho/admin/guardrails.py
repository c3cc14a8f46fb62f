"""/admin/v1/guardrails: policies, each tenant's policy (versioned, in the ledger), events.

Events are listed per tenant and per alias; an event names the check, the
kind of value and where it was, with a salted hash — never the value.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.requests import Request

from sekisho.admin.auth import READ_OPS, AdminPrincipal, gateway_of, require
from sekisho.admin.schemas import GuardrailEventList, GuardrailPolicies, TenantGuardrails
from sekisho.guardrails.assignments import set_tenant_policy, tenant_assignment
from sekisho.guardrails.guard import ChatGuard
from sekisho.guardrails.tables import GuardrailEventRow
from sekisho.tenancy.service import find_tenant

router = APIRouter(tags=["guardrails"])
READERS = (*READ_OPS, "security_owner")
WRITERS = ("admin", "operator", "security_owner")
Reader = Annotated[AdminPrincipal, Depends(require(*READERS))]
Writer = Annotated[AdminPrincipal, Depends(require(*WRITERS))]
EVENT_FIELDS = (
    "id", "ts", "tenant_id", "key_id", "user_id", "request_id", "alias", "stage", "check",
    "action", "enforced", "kind", "location", "span_start", "span_end", "score", "value_hash",
    "policy", "policy_version", "latency_ms",
)  # fmt: skip


class PolicyIn(BaseModel):
    policy: str = Field(min_length=1, max_length=100, description="A policy the config defines.")
    note: str | None = Field(None, max_length=2000, description="Why (goes into the ledger).")


def _guard(request: Request) -> ChatGuard:
    return gateway_of(request).chat.guard


@router.get(
    "/guardrails/policies",
    summary="The guardrail policies of the config",
    response_model=GuardrailPolicies,
)
async def policies(request: Request, _: Reader) -> dict[str, Any]:
    guard = _guard(request)
    settings = gateway_of(request).settings.guardrails
    return {
        "enabled": guard.enabled,
        "default_policy": settings.default_policy,
        "policies": {
            name: {"version": guard.policies[name].version, **spec.model_dump(mode="json")}
            for name, spec in sorted(settings.all_policies().items())
        },
    }


def _view(guard: ChatGuard, tenant_id: str, policy: str, version: int) -> dict[str, Any]:
    compiled = guard.policies.get(policy)
    return {
        "tenant_id": tenant_id,
        "policy": policy,
        "assignment_version": version,
        "policy_version": compiled.version if compiled else None,
        "own_policy": version > 0,
    }


@router.get(
    "/tenants/{ref}/guardrails",
    summary="A tenant's guardrail policy",
    response_model=TenantGuardrails,
)
async def show(request: Request, ref: str, _: Reader) -> dict[str, Any]:
    gw, guard = gateway_of(request), _guard(request)

    def run() -> dict[str, Any]:
        with gw.db.read() as session:
            a = tenant_assignment(session, ref, gw.settings.guardrails.default_policy)
            return _view(guard, a.tenant_id, a.policy, a.version)

    return await asyncio.to_thread(run)


@router.put("/tenants/{ref}/guardrails", summary="Give a tenant its own guardrail policy")
async def assign(request: Request, ref: str, body: PolicyIn, who: Writer) -> dict[str, Any]:
    gw, guard = gateway_of(request), _guard(request)

    def run() -> dict[str, Any]:
        with gw.db.begin() as session:
            a = set_tenant_policy(
                session, ref, body.policy, who.actor, known_policies=guard.policies, note=body.note
            )
        guard.adopt(a)  # this replica at once; the others within refresh_interval_s
        return _view(guard, a.tenant_id, a.policy, a.version)

    return await asyncio.to_thread(run)


@router.get(
    "/guardrails/events",
    summary="Guardrail events by tenant and/or alias (newest first)",
    response_model=GuardrailEventList,
)
async def events(
    request: Request,
    _: Reader,
    tenant: str | None = None,
    alias: str | None = None,
    check: str | None = None,
    since_s: Annotated[int, Query(ge=1, le=90 * 86400)] = 86400,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    gw = gateway_of(request)
    start = datetime.now(UTC) - timedelta(seconds=since_s)

    def run() -> list[dict[str, Any]]:
        with gw.db.read() as session:
            query = select(GuardrailEventRow).where(GuardrailEventRow.ts >= start)
            if tenant is not None:
                query = query.where(GuardrailEventRow.tenant_id == find_tenant(session, tenant).id)
            if alias is not None:
                query = query.where(GuardrailEventRow.alias == alias)
            if check is not None:
                query = query.where(GuardrailEventRow.check == check)
            rows = session.scalars(
                query.order_by(GuardrailEventRow.ts.desc(), GuardrailEventRow.id).limit(limit)
            )
            return [
                {
                    f: (getattr(r, f).isoformat() if f == "ts" else getattr(r, f))
                    for f in EVENT_FIELDS
                }
                for r in rows
            ]

    return {"events": await asyncio.to_thread(run)}
