"""Response models of the admin API's read routes: what the OpenAPI document says they return.

Times are ISO 8601 strings (UTC), as the routes write them; a missing time is null.
"""

from __future__ import annotations

from pydantic import BaseModel


class TenantSummary(BaseModel):
    id: str
    name: str
    state: str
    version: int


class TenantList(BaseModel):
    tenants: list[TenantSummary]


class Suspension(BaseModel):
    id: str
    reason: str
    note: str | None
    created_at: str | None
    requested_by: str | None
    authorized_by: str | None
    review_at: str | None
    overdue: bool
    evidence_sha256: str | None
    ended_at: str | None
    ended_kind: str | None
    end_note: str | None


class TenantView(BaseModel):
    id: str
    name: str
    state: str
    state_changed_at: str | None
    version: int
    sovereignty: str | None
    china_gated_access: bool
    allowed_aliases: list[str] | None
    account_owner_email: str | None
    cs_email: str | None
    open_suspension: Suspension | None
    suspensions: list[Suspension]


class OverdueSuspension(BaseModel):
    tenant_id: str
    tenant: str
    suspension_id: str
    reason: str
    suspended_at: str
    review_at: str
    days_overdue: int


class OverdueList(BaseModel):
    overdue: list[OverdueSuspension]


class ApiKeyView(BaseModel):
    id: str
    prefix: str
    name: str | None
    tenant_id: str
    aliases: list[str] | None
    status: str
    blocked_because: str | None
    created_at: str | None
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None


class ApiKeyList(BaseModel):
    keys: list[ApiKeyView]
