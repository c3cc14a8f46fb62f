"""Which policy each tenant runs: stored per tenant, versioned, every change in the ledger.

`set_tenant_policy` runs in the caller's write transaction, so the change and
its ledger entry commit or roll back together (Rule 10). A policy name must
be one the config defines; a refused change writes nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho import audit
from sekisho.actor import Actor
from sekisho.guardrails.tables import TenantGuardrailPolicy
from sekisho.tenancy.service import ControlPlaneError, find_tenant


@dataclass(frozen=True, slots=True)
class Assignment:
    tenant_id: str
    policy: str
    version: int  # 0: never set, the config default applies


def load_assignments(session: Session) -> dict[str, Assignment]:
    """Every tenant's own policy (tenants without one are absent)."""
    return {
        row.tenant_id: Assignment(row.tenant_id, row.policy, row.version)
        for row in session.scalars(select(TenantGuardrailPolicy))
    }


def tenant_assignment(session: Session, tenant_ref: str, default_policy: str) -> Assignment:
    tenant = find_tenant(session, tenant_ref)
    row = session.get(TenantGuardrailPolicy, tenant.id)
    if row is None:
        return Assignment(tenant.id, default_policy, 0)
    return Assignment(tenant.id, row.policy, row.version)


def set_tenant_policy(
    session: Session,
    tenant_ref: str,
    policy: str,
    actor: Actor,
    *,
    known_policies: Collection[str],
    note: str | None = None,
    clock: datetime | None = None,
) -> Assignment:
    """Give a tenant its own policy; records `tenant.guardrails.set` in the tenant's ledger."""
    if policy not in known_policies:
        raise ControlPlaneError(
            f"unknown guardrail policy {policy!r}; defined: {', '.join(sorted(known_policies))}"
        )
    tenant = find_tenant(session, tenant_ref)
    now = clock or datetime.now(UTC)
    row = session.get(TenantGuardrailPolicy, tenant.id, with_for_update=True)
    previous = row.policy if row else None
    if row is None:
        row = TenantGuardrailPolicy(
            tenant_id=tenant.id,
            policy=policy,
            version=1,
            updated_at=now,
            updated_by=actor.email or actor.id,
        )
        session.add(row)
    else:
        row.policy = policy
        row.version += 1
        row.updated_at = now
        row.updated_by = actor.email or actor.id
    session.flush()
    audit.record(
        session,
        actor,
        "tenant.guardrails.set",
        ("tenant", tenant.id),
        tenant_id=tenant.id,
        note=note,
        details={"policy": policy, "previous": previous, "version": row.version},
    )
    return Assignment(tenant.id, policy, row.version)
