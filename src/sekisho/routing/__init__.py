"""Routing policy, pure: who may use an alias, which routes to try and why, circuit health.

No I/O in this package; every clock is passed in as `now` (unix seconds).
"""

from sekisho.routing.availability import AliasAccess, alias_access, usable_aliases
from sekisho.routing.circuit import CircuitBook, CircuitSettings, CircuitState, CircuitView
from sekisho.routing.outcome import (
    Outcome,
    classify,
    classify_failure,
    classify_status,
    final_error,
)
from sekisho.routing.overrides import (
    Override,
    active_overrides,
    override_warnings,
    validate_override,
)
from sekisho.routing.plan import Candidate, PlanEntry, RoutePlan, plan_routes
from sekisho.routing.policy import TenantPolicy, effective_constraint, tenant_kinds

__all__ = [
    "AliasAccess",
    "Candidate",
    "CircuitBook",
    "CircuitSettings",
    "CircuitState",
    "CircuitView",
    "Outcome",
    "Override",
    "PlanEntry",
    "RoutePlan",
    "TenantPolicy",
    "active_overrides",
    "alias_access",
    "classify",
    "classify_failure",
    "classify_status",
    "effective_constraint",
    "final_error",
    "override_warnings",
    "plan_routes",
    "tenant_kinds",
    "usable_aliases",
    "validate_override",
]
