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


@dataclass(frozen=True, slots=True)
class SessionSnapshot:
    """A signed-in browser session as last read from the store."""

    id: str
    user_id: str
    role: str
    tenant_id: str | None
    user_disabled: bool
    expires_at: datetime  # absolute timeout
    idle_expires_at: datetime  # last seen + idle timeout
    revoked_at: datetime | None


def may_act(
    tenant: TenantSnapshot | None,
    key: KeySnapshot | None,
    now: datetime,
    *,
    session: SessionSnapshot | None = None,
) -> None:
    """Raise the customer-facing error if this tenant / key / session may not act at `now`.

    A platform user's session has no tenant; a member's session and every key do.
    """
    if session is not None:
        if session.revoked_at is not None and session.revoked_at <= now:
            raise InvalidApiKey("Your session has ended; sign in again.")
        if session.expires_at <= now or session.idle_expires_at <= now:
            raise InvalidApiKey("Your session has expired; sign in again.")
        if session.user_disabled:
            raise InvalidApiKey("This account is disabled.")
        if session.tenant_id is not None and (tenant is None or tenant.id != session.tenant_id):
            raise InvalidApiKey("Your session has ended; sign in again.")
    elif tenant is None:
        raise InvalidApiKey("Invalid API key.")
    if key is not None:
        if tenant is None or key.tenant_id != tenant.id:
            raise InvalidApiKey("Invalid API key.")
        if key.revoked_at is not None and key.revoked_at <= now:
            raise InvalidApiKey("This API key has been revoked.")
        if key.expires_at is not None and key.expires_at <= now:
            raise InvalidApiKey("This API key has expired.")
    if tenant is not None and tenant.state != "active":
        raise TenantSuspended(f"Tenant {tenant.name!r} is {tenant.state}; access is disabled.")
