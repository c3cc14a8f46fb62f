"""What a tenant (and the API key it called with) may do, as a plain value.

`TenantPolicy` is built by the tenancy layer from the tenant row and the key
row; routing only reads it. The request's *effective constraint* is the union
of the alias's and the tenant's sovereignty tags (DESIGN.md, Concepts).
"""

from __future__ import annotations

from dataclasses import dataclass

from sekisho.matrix.model import Alias, Matrix, SovereigntyTag

__all__ = ["TenantPolicy", "effective_constraint", "tenant_kinds"]


@dataclass(frozen=True, slots=True)
class TenantPolicy:
    """The routing-relevant facts about a tenant and the key it used."""

    tenant_id: str
    sovereignty: SovereigntyTag | None = None
    china_gated_access: bool = False
    allowed_aliases: frozenset[str] | None = None  # None: every alias
    key_aliases: frozenset[str] | None = None  # the API key's scope; None: every alias

    @property
    def required_tags(self) -> frozenset[SovereigntyTag]:
        return frozenset({self.sovereignty}) if self.sovereignty else frozenset()

    def tenant_allows(self, alias_name: str) -> bool:
        return self.allowed_aliases is None or alias_name in self.allowed_aliases

    def key_allows(self, alias_name: str) -> bool:
        return self.key_aliases is None or alias_name in self.key_aliases


def effective_constraint(alias: Alias, tenant: TenantPolicy) -> frozenset[SovereigntyTag]:
    """The tags every provider serving this request must satisfy: union of alias and tenant tags."""
    return alias.required_tags | tenant.required_tags


def tenant_kinds(matrix: Matrix) -> list[TenantPolicy]:
    """One representative tenant per kind the matrix distinguishes, for `alias show`.

    Kinds are: unconstrained, each sovereignty tag a provider offers, and each
    of those with the China-gate grant. Ids read like "kind:jp_sovereign+china".
    """
    tags = sorted({t for p in matrix.providers.values() for t in p.sovereignty})
    kinds: list[TenantPolicy] = []
    for tag in [None, *tags]:
        for china in (False, True):
            name = (tag or "unconstrained") + ("+china" if china else "")
            kinds.append(TenantPolicy(f"kind:{name}", sovereignty=tag, china_gated_access=china))
    return kinds
