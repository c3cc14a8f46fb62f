"""May this tenant, with this key, use this alias at all? Decided before any upstream call.

An alias is usable only when it exists, the tenant and the key both allow it,
its primary provider satisfies the effective constraint, and — for a
China-gated primary — the tenant holds the grant. A fallback never makes an
alias usable: a customer who may not reach the primary gets a clear 403, not
a silent detour. `/v1/models` lists exactly the usable aliases.

Denials map to DESIGN.md's error table:

    unknown_alias                         404 model_not_found
    not_allowed_for_tenant / _for_key     403 permission_denied
    china_gate_not_granted                403 permission_denied
    primary_does_not_satisfy              403 permission_denied
    primary_not_in_matrix                 500 internal_error (a matrix that bypassed validation)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sekisho.matrix.model import Matrix
from sekisho.routing.policy import TenantPolicy, effective_constraint

__all__ = ["AliasAccess", "Denial", "alias_access", "usable_aliases"]

Denial = Literal[
    "unknown_alias",
    "not_allowed_for_tenant",
    "not_allowed_for_key",
    "primary_not_in_matrix",
    "china_gate_not_granted",
    "primary_does_not_satisfy",
]

_ERROR: dict[Denial, tuple[str, int]] = {
    "unknown_alias": ("model_not_found", 404),
    "not_allowed_for_tenant": ("permission_denied", 403),
    "not_allowed_for_key": ("permission_denied", 403),
    "primary_not_in_matrix": ("internal_error", 500),
    "china_gate_not_granted": ("permission_denied", 403),
    "primary_does_not_satisfy": ("permission_denied", 403),
}

# Customer-facing: they name the alias only, never a provider or a region.
_MESSAGE: dict[Denial, str] = {
    "unknown_alias": "The model '{alias}' does not exist.",
    "not_allowed_for_tenant": "Your organization is not permitted to use the model '{alias}'.",
    "not_allowed_for_key": "This API key is not permitted to use the model '{alias}'.",
    "primary_not_in_matrix": "The model '{alias}' is misconfigured; please contact support.",
    "china_gate_not_granted": "Your organization is not permitted to use the model '{alias}'.",
    "primary_does_not_satisfy": (
        "The model '{alias}' is not available under your organization's data-residency requirement."
    ),
}


@dataclass(frozen=True, slots=True)
class AliasAccess:
    """Usable, or the one reason why not. `detail` is internal and may name a provider."""

    alias: str
    denial: Denial | None = None
    detail: str = ""

    @property
    def usable(self) -> bool:
        return self.denial is None

    @property
    def error_code(self) -> str | None:
        return _ERROR[self.denial][0] if self.denial else None

    @property
    def http_status(self) -> int | None:
        return _ERROR[self.denial][1] if self.denial else None

    @property
    def customer_message(self) -> str:
        return _MESSAGE[self.denial].format(alias=self.alias) if self.denial else ""

    def to_log(self) -> dict[str, Any]:
        return {"usable": self.usable, "denial": self.denial, "detail": self.detail}


def alias_access(matrix: Matrix, alias_name: str, tenant: TenantPolicy) -> AliasAccess:
    """Decide whether `tenant` may use `alias_name`; never raises."""
    alias = matrix.aliases.get(alias_name)
    if alias is None:
        return AliasAccess(alias_name, "unknown_alias", "no such alias in the matrix")
    if not tenant.tenant_allows(alias_name):
        return AliasAccess(alias_name, "not_allowed_for_tenant", "alias not in the tenant's list")
    if not tenant.key_allows(alias_name):
        return AliasAccess(alias_name, "not_allowed_for_key", "alias not in the API key's scope")
    primary = matrix.providers.get(alias.route.provider)
    if primary is None:
        return AliasAccess(
            alias_name,
            "primary_not_in_matrix",
            f"primary provider {alias.route.provider!r} unknown",
        )
    if primary.china_gated and not tenant.china_gated_access:
        return AliasAccess(
            alias_name,
            "china_gate_not_granted",
            f"primary {primary.id!r} is China-gated and the tenant has no grant",
        )
    missing = effective_constraint(alias, tenant) - primary.sovereignty
    if missing:
        return AliasAccess(
            alias_name,
            "primary_does_not_satisfy",
            f"primary {primary.id!r} does not satisfy {', '.join(sorted(missing))}",
        )
    return AliasAccess(alias_name)


def usable_aliases(matrix: Matrix, tenant: TenantPolicy) -> list[str]:
    """The aliases `tenant` may call, sorted: what `/v1/models` lists."""
    return sorted(name for name in matrix.aliases if alias_access(matrix, name, tenant).usable)
