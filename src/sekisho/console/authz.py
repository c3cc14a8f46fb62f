"""What a console viewer may see and do: the admin API's own decision, never a second table.

Every console action names the `/admin/v1` route it corresponds to. The
roles each route admits are read from the admin app itself (the
`require(*roles)` dependency it declares), and the decision is
`sekisho.admin.auth.allows`, the function the admin API calls. So a role
sees and does in the console exactly what it may through `/admin/v1`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from sekisho.admin.auth import allows

# console action -> (method, admin route path) whose roles decide it
ACTIONS: dict[str, tuple[str, str]] = {
    "overview": ("GET", "/aliases"),
    "alias_dashboard": ("GET", "/aliases/{alias}/series"),
    "requests": ("GET", "/aliases/{alias}/series"),
    "triage": ("GET", "/aliases/{alias}/triage"),
    "alerts": ("GET", "/alerts"),
    "probes": ("GET", "/probes"),
    "providers": ("GET", "/aliases/{alias}"),
    "override_set": ("POST", "/aliases/{alias}/overrides"),
    "override_revert": ("POST", "/aliases/{alias}/revert"),
    "tenants": ("GET", "/tenants"),
    "tenant": ("GET", "/tenants/{ref}"),
    "overdue": ("GET", "/tenants/overdue"),
    "tenant_usage": ("GET", "/tenants/{tenant_id}/series"),
    "keys": ("GET", "/tenants/{ref}/keys"),
    "key_revoke": ("POST", "/keys/{ref}/revoke"),
    "incidents": ("GET", "/incidents"),
    "incident": ("GET", "/incidents/{incident_id}"),
    "incident_open": ("POST", "/incidents"),
    "incident_note": ("POST", "/incidents/{incident_id}/notes"),
    "incident_update": ("POST", "/incidents/{incident_id}/updates"),
    "incident_resolve": ("POST", "/incidents/{incident_id}/resolve"),
    "incident_evidence": ("POST", "/incidents/{incident_id}/evidence"),
    "evidence_export": ("POST", "/evidence/export"),
    # Runbook runs have no admin route of their own: reading one is judged like reading
    # incidents, recording a step like writing an incident note.
    "runbook": ("GET", "/incidents"),
    "runbook_record": ("POST", "/incidents/{incident_id}/notes"),
    "ledger": ("GET", "/ledger"),
    "ledger_verify": ("GET", "/ledger/verify"),
    "ledger_entries": ("GET", "/ledger/{ledger}/entries"),
    "ledger_checkpoints": ("GET", "/ledger/{ledger}/checkpoints"),
    "ledger_proof": ("GET", "/ledger/{ledger}/proof/{seq}"),
}
# Actions of h-identity's routes (two-step lifecycle, tokens, users): used once mounted.
OPTIONAL_ACTIONS: dict[str, tuple[str, str]] = {
    "suspension_request": ("POST", "/tenants/{ref}/suspension-requests"),
    "reinstatement_request": ("POST", "/tenants/{ref}/reinstatement-requests"),
    "offboarding_request": ("POST", "/tenants/{ref}/offboarding-requests"),
    "suspension_requests": ("GET", "/suspension-requests"),
    "sign_off": ("POST", "/suspension-requests/{request_id}/sign-off"),
    "withdraw": ("POST", "/suspension-requests/{request_id}/withdraw"),
    "tokens": ("GET", "/tokens"),
    "token_create": ("POST", "/tokens"),
    "token_revoke": ("POST", "/tokens/{ref}/revoke"),
    "users": ("GET", "/users"),
    "user_disable": ("POST", "/users/{ref}/disable"),
    "user_enable": ("POST", "/users/{ref}/enable"),
}


def _api_routes(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every APIRoute with its full path, through included routers (FastAPI >= 0.165 nests them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
            continue
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _api_routes(inner.routes, prefix + getattr(context, "prefix", ""))


def _roles(dependant: Dependant) -> tuple[str, ...] | None:
    for dep in dependant.dependencies:
        found = getattr(dep.call, "roles", None)
        if found is not None:
            return tuple(found)
        nested = _roles(dep)
        if nested is not None:
            return nested
    return None


def route_roles(admin: FastAPI) -> dict[tuple[str, str], tuple[str, ...]]:
    """(method, path) -> the roles its `require(...)` dependency admits, for every admin route."""
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for path, route in _api_routes(admin.routes):
        roles = _roles(route.dependant)
        if roles is None:
            continue
        for method in route.methods or ():
            out[(method, path)] = roles
    return out


@dataclass(frozen=True, slots=True)
class Permissions:
    """The console's action table, resolved once against the running admin app."""

    roles: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_admin(cls, admin: FastAPI) -> Permissions:
        table = route_roles(admin)
        resolved: dict[str, tuple[str, ...]] = {}
        for action, key in ACTIONS.items():
            if key not in table:
                raise RuntimeError(f"console action {action!r}: no admin route {key}")
            resolved[action] = table[key]
        for action, key in OPTIONAL_ACTIONS.items():
            if key in table:
                resolved[action] = table[key]
        return cls(resolved)

    def may(self, role: str, action: str) -> bool:
        """The admin API's decision for `role` on the route behind `action` (unknown: no)."""
        roles = self.roles.get(action)
        return roles is not None and allows(role, roles)

    def allowed(self, role: str, actions: Iterable[str] | None = None) -> frozenset[str]:
        return frozenset(a for a in (actions or self.roles) if self.may(role, a))
