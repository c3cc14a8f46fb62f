"""Who is calling the chat core: a tenant, through an API key or a chat session."""

from __future__ import annotations

from dataclasses import dataclass

from sekisho.routing.policy import TenantPolicy
from sekisho.tenancy.snapshot import KeySnapshot, TenantSnapshot


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: TenantSnapshot
    key: KeySnapshot | None = None
    user_id: str | None = None
    source: str = "api"  # api | chat | probe

    @property
    def policy(self) -> TenantPolicy:
        return TenantPolicy(
            tenant_id=self.tenant.id,
            sovereignty=self.tenant.sovereignty,
            china_gated_access=self.tenant.china_gated_access,
            allowed_aliases=self.tenant.allowed_aliases,
            key_aliases=self.key.aliases if self.key else None,
        )
