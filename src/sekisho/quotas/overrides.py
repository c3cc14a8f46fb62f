"""Per-tenant quota overrides: stored, changed in the ledger, and cached by every replica.

The hot path reads `OverrideCache.get(tenant_id)`, a dict lookup; a background loop
re-reads the (small) table every `quotas.refresh_s`, so a change reaches every replica
within that bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho.actor import Actor
from sekisho.audit import record
from sekisho.quotas.limits import QuotaLimits, check_limits, overlay
from sekisho.quotas.tables import TenantQuota
from sekisho.tenancy.service import find_tenant


def set_tenant_quota(
    session: Session,
    tenant_ref: str,
    changes: Mapping[str, Any],
    actor: Actor,
    *,
    clear: bool = False,
    note: str | None = None,
) -> dict[str, int | None]:
    """Lay `changes` over the tenant's override (or drop the override with `clear`).

    Returns the override now in force. Raises ValueError for a bad limit, before any change.
    """
    checked = check_limits(dict(changes))
    tenant = find_tenant(session, tenant_ref)
    row = session.get(TenantQuota, tenant.id)
    before = dict(row.limits) if row else {}
    after: dict[str, int | None] = {} if clear else {**before, **checked}
    now = datetime.now(UTC)
    if row is None:
        row = TenantQuota(
            tenant_id=tenant.id,
            limits=after,
            version=1,
            updated_at=now,
            updated_by=actor.email or actor.id,
        )
        session.add(row)
    else:
        row.limits, row.version = after, row.version + 1
        row.updated_at, row.updated_by = now, actor.email or actor.id
    record(
        session,
        actor,
        "tenant.quota.set" if not clear else "tenant.quota.clear",
        ("tenant", tenant.id),
        tenant_id=tenant.id,
        note=note,
        details={"before": before, "after": after, "version": row.version},
    )
    return after


def tenant_quota(session: Session, tenant_ref: str, defaults: QuotaLimits) -> dict[str, Any]:
    """The tenant's override and effective limits, for people to read."""
    tenant = find_tenant(session, tenant_ref)
    row = session.get(TenantQuota, tenant.id)
    override = dict(row.limits) if row else {}
    return {
        "tenant_id": tenant.id,
        "tenant": tenant.name,
        "override": override,
        "effective": overlay(defaults, override).to_dict(),
        "version": row.version if row else 0,
    }


def load_overrides(session: Session) -> dict[str, dict[str, int | None]]:
    return {row.tenant_id: dict(row.limits) for row in session.scalars(select(TenantQuota))}


class OverrideCache:
    """The latest overrides of every tenant, replaced whole on each refresh."""

    def __init__(self) -> None:
        self._by_tenant: dict[str, dict[str, int | None]] = {}
        self.loaded = False

    def get(self, tenant_id: str) -> dict[str, int | None] | None:
        return self._by_tenant.get(tenant_id)

    def tenants_with(self, name: str) -> list[str]:
        return [t for t, o in self._by_tenant.items() if o.get(name)]

    def replace(self, overrides: dict[str, dict[str, int | None]]) -> None:
        self._by_tenant = overrides
        self.loaded = True
