"""Operator overrides of an alias's route order: drain a provider, or pin to one.

An override is a temporary operator decision with a reason and an expiry
(unix seconds, like every clock in `sekisho.routing`). It is active from
`created_at` until `expires_at` or `reverted_at`, whichever comes first.

- **drain** excludes every route of the alias on that provider.
- **pin** moves the routes of the alias on that provider to the front; the
  others follow as fallbacks in matrix order.

A pin must never break Rules 2-3, so `validate_override` refuses a pin onto a
provider that does not satisfy the alias's own requirement, and a pin onto a
China-gated provider unless it is the alias's primary. A pin is still only a
preference: for a tenant whose own constraint the pinned provider does not
satisfy, the planner excludes the pinned route and uses the normal order.
When a drain and a pin name the same provider, the drain wins (the safer
reading of two conflicting orders). With several pins active the newest wins.
Draining every route of an alias is allowed — the operator may mean it — but
`override_warnings` says that every request for it will then fail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sekisho.matrix.model import Matrix

__all__ = ["Override", "OverrideKind", "active_overrides", "override_warnings", "validate_override"]

OverrideKind = Literal["drain", "pin"]


@dataclass(frozen=True, slots=True)
class Override:
    """One operator override of one alias."""

    id: str
    alias: str
    kind: OverrideKind
    provider: str
    reason: str
    created_by: str
    created_at: float
    expires_at: float
    reverted_at: float | None = None

    def is_active(self, now: float) -> bool:
        ended = self.reverted_at is not None and self.reverted_at <= now
        return self.created_at <= now < self.expires_at and not ended

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def active_overrides(overrides: Iterable[Override], now: float) -> list[Override]:
    """The overrides in force at `now`, oldest first."""
    return sorted((o for o in overrides if o.is_active(now)), key=lambda o: (o.created_at, o.id))


def validate_override(matrix: Matrix, override: Override) -> list[str]:
    """Why this override must be refused; an empty list means it may be set."""
    problems: list[str] = []
    if override.kind not in ("drain", "pin"):
        problems.append(f"unknown override kind {override.kind!r} (expected drain or pin)")
    if not override.reason.strip():
        problems.append("a reason is required")
    if not override.created_by.strip():
        problems.append("the operator who sets it is required")
    if not override.expires_at > override.created_at:
        problems.append("the expiry must be after the creation time")
    alias = matrix.aliases.get(override.alias)
    if alias is None:
        return [*problems, f"unknown alias {override.alias!r}"]
    if all(r.provider != override.provider for r in alias.routes):
        return [*problems, f"provider {override.provider!r} is not a route of alias {alias.name!r}"]
    provider = matrix.providers.get(override.provider)
    if provider is None:
        return [*problems, f"provider {override.provider!r} is not in the matrix"]
    if override.kind == "pin":
        if provider.china_gated and alias.route.provider != provider.id:
            problems.append(
                f"cannot pin alias {alias.name!r} to China-gated provider {provider.id!r}: "
                "China-gated providers are never a fallback"
            )
        if not provider.satisfies(alias.required_tags):
            problems.append(
                f"cannot pin alias {alias.name!r} to {provider.id!r}: it does not satisfy "
                f"the alias requirement {alias.sovereignty}"
            )
    return problems


def override_warnings(
    matrix: Matrix, override: Override, active: Iterable[Override] = ()
) -> list[str]:
    """Accepted but worth a second look, given the other overrides in force."""
    alias = matrix.aliases.get(override.alias)
    if alias is None:
        return []
    others = [o for o in active if o.alias == alias.name and o.id != override.id]
    warnings: list[str] = []
    drained = {o.provider for o in [*others, override] if o.kind == "drain"}
    if override.kind == "drain" and all(r.provider in drained for r in alias.routes):
        warnings.append(
            f"this drains every route of alias {alias.name!r}: every request for it "
            "will fail with upstream_unavailable until an override is reverted or expires"
        )
    if override.kind == "pin":
        if override.provider in drained:
            warnings.append(
                f"provider {override.provider!r} is drained; the drain wins over this pin"
            )
        warnings.extend(f"replaces pin #{o.id} ({o.provider})" for o in others if o.kind == "pin")
        primary = matrix.providers.get(alias.route.provider)
        if primary is not None and primary.china_gated and override.provider != primary.id:
            warnings.append(
                f"takes the China-gated primary of alias {alias.name!r} out of service while "
                "it lasts: China-gated providers are never a fallback"
            )
    return warnings
