"""Immutable views of tenant and credential state, and the one access decision.

`may_act` is the single answer to "may this tenant / key / session act now?".
Every entry point (the /v1 API, the BFF chat, in-flight stream checks) calls
it with fresh-enough snapshots; it does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sekisho.errors import InvalidApiKey, TenantSuspended


@dataclass(frozen=True, slots=True)
class TenantSnapshot:
    id: str
    name: str
    state: str
    sovereignty: str | None
    china_gated_access: bool
    allowed_aliases: frozenset[str] | None
    version: int = 1


@dataclass(frozen=True, slots=True)
class KeySnapshot:
    id: str
    tenant_id: str
    prefix: str
    secret_hash: str
    aliases: frozenset[str] | None
    expires_at: datetime | None
    revoked_at: datetime | None


def may_act(tenant: TenantSnapshot, key: KeySnapshot | None, now: datetime) -> None:
    """Raise the customer-facing error if this tenant (and key) may not act at `now`."""
    if key is not None:
        if key.tenant_id != tenant.id:
            raise InvalidApiKey("Invalid API key.")
        if key.revoked_at is not None and key.revoked_at <= now:
            raise InvalidApiKey("This API key has been revoked.")
        if key.expires_at is not None and key.expires_at <= now:
            raise InvalidApiKey("This API key has expired.")
    if tenant.state != "active":
        raise TenantSuspended(f"Tenant {tenant.name!r} is {tenant.state}; access is disabled.")
