"""The route planner: which routes of an alias to try for one request, in what order, and why.

Pure: `plan_routes(matrix, alias, tenant, health, overrides, now)` reads
values and returns a `RoutePlan`; it never raises on any input (a matrix that
bypassed validation included). Every route of the alias gets a `PlanEntry`
with a decision and a human reason, stored with the request log (internal
only) so an operator can answer "why did this request go there?".

Each route is judged in this order; the first verdict that applies wins:

1. rules (DESIGN.md Rules 2-3), re-checked here even though the matrix
   validator checks them too: provider unknown; a repeat of an earlier route;
   "excluded: China-gated providers are never a fallback"; "excluded: does
   not satisfy TAG"
   for the effective constraint (union of alias and tenant tags);
2. operator drains: "drained by override #12 (reason)";
3. circuit health: "skipped: circuit open (until ...)", or a half-open circuit
   whose trial slots are all taken.

Survivors are ordered: routes on a pinned provider first ("pinned by override
#7 (reason)"), then the rest in matrix order. A China-gated primary that a pin
pushed behind another route is excluded — it would be a fallback (Rule 3).
A pin never admits a route the rules exclude: for a tenant whose constraint
the pinned provider does not satisfy, the normal order is used.

**When every eligible route's circuit is open** (`RoutePlan.all_open`), the
plan neither fails fast forever nor hammers: it holds exactly one candidate,
a *probe* on the eligible route whose circuit opened earliest (ties: matrix
order), provided that circuit has been open for `probe_interval_s` and no
half-open trial is already in flight among the eligible routes. Every other
request gets no candidate and fails fast with 502 `upstream_unavailable`. The
executor claims the probe with `CircuitBook.allow_probe` (others with
`allow`), so concurrent plans that all chose the same probe let one through.
A successful probe closes that circuit and traffic resumes; a failed one
re-opens it, making it the most recently opened, so probes rotate.

Time: `now` is unix seconds (see `routing.circuit`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sekisho.matrix.model import Alias, Matrix, Provider, Route
from sekisho.routing.availability import AliasAccess, alias_access
from sekisho.routing.circuit import CLOSED, CircuitView
from sekisho.routing.overrides import Override, active_overrides
from sekisho.routing.policy import TenantPolicy, effective_constraint

__all__ = ["Candidate", "Decision", "PlanEntry", "RoutePlan", "plan_routes"]

Decision = Literal["candidate", "excluded", "drained", "skipped"]

PROBE_REASON = (
    "probe: every eligible route's circuit is open; one trial on the route whose circuit "
    "opened earliest"
)
_CHINA_BEHIND_PIN = (
    "excluded: China-gated providers are never a fallback (a pinned route is ahead of it)"
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A route to try: the provider to call and the upstream model to ask for."""

    route: Route
    provider: Provider
    label: str  # "primary" or "fallback N" (N: position in the matrix's fallbacks)
    reason: str
    probe: bool = False  # claim with CircuitBook.allow_probe instead of allow

    @property
    def model(self) -> str:
        return self.route.model


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """One route of the alias with the planner's decision about it."""

    route: Route
    label: str
    decision: Decision
    reason: str
    order: int | None = None  # index in RoutePlan.candidates

    def to_log(self) -> dict[str, Any]:
        return {
            "provider": self.route.provider,
            "model": self.route.model,
            "label": self.label,
            "decision": self.decision,
            "reason": self.reason,
            "order": self.order,
        }


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """The ordered candidates for one request, and a verdict on every route of the alias."""

    alias: str
    tenant_id: str
    constraint: frozenset[str]
    access: AliasAccess
    candidates: tuple[Candidate, ...] = ()
    entries: tuple[PlanEntry, ...] = ()
    all_open: bool = False  # every eligible route's circuit is open (or its trial busy)
    overrides: tuple[str, ...] = ()  # ids of the active overrides of this alias

    @property
    def probe(self) -> Candidate | None:
        return next((c for c in self.candidates if c.probe), None)

    def to_log(self) -> dict[str, Any]:
        """A JSON-serializable record for the internal request log."""
        return {
            "alias": self.alias,
            "tenant_id": self.tenant_id,
            "constraint": sorted(self.constraint),
            "access": self.access.to_log(),
            "all_open": self.all_open,
            "overrides": list(self.overrides),
            "candidates": [
                {
                    "provider": c.route.provider,
                    "model": c.route.model,
                    "reason": c.reason,
                    "probe": c.probe,
                }
                for c in self.candidates
            ],
            "entries": [e.to_log() for e in self.entries],
        }


def _when(ts: float | None) -> str:
    if ts is None:
        return "unknown"
    try:
        return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return str(ts)


def _override_note(verb: str, o: Override) -> str:
    return f"{verb} by override #{o.id} ({o.reason})"


def _rule_exclusion(
    matrix: Matrix,
    index: int,
    route: Route,
    constraint: frozenset[str],
    earlier: set[Route],
) -> str | None:
    provider = matrix.providers.get(route.provider)
    if provider is None:
        return f"excluded: provider {route.provider!r} is not in the matrix"
    if route in earlier:
        return "excluded: repeats an earlier route"
    if provider.china_gated and index > 0:
        return "excluded: China-gated providers are never a fallback"
    missing = constraint - provider.sovereignty
    if missing:
        return f"excluded: does not satisfy {', '.join(sorted(missing))}"
    return None


def _health_skip(view: CircuitView) -> str | None:
    if view.state == "open":
        return f"skipped: circuit open (until {_when(view.open_until)})"
    if view.state == "half_open" and not view.trial_available:
        return "skipped: circuit half-open, a trial request is in flight"
    return None


@dataclass(slots=True)
class _Judged:
    index: int
    route: Route
    label: str
    decision: Decision
    reason: str
    view: CircuitView = CLOSED
    eligible: bool = False  # passed the rules and no drain
    order: int | None = None


def plan_routes(
    matrix: Matrix,
    alias_name: str,
    tenant: TenantPolicy,
    health: Mapping[Route, CircuitView],
    overrides: Iterable[Override],
    now: float,
) -> RoutePlan:
    """Plan the routes for one request; see the module docstring. Never raises."""
    # Access covers the China-gate grant and the primary's constraint for the whole alias.
    access = alias_access(matrix, alias_name, tenant)
    alias = matrix.aliases.get(alias_name)
    if alias is None:
        return RoutePlan(alias_name, tenant.tenant_id, tenant.required_tags, access)
    constraint = effective_constraint(alias, tenant)
    labels = ["primary", *(f"fallback {i}" for i in range(1, len(alias.routes)))]
    if not access.usable:
        reason = f"excluded: alias not usable by this tenant ({access.detail})"
        entries = tuple(
            PlanEntry(r, lb, "excluded", reason) for r, lb in zip(alias.routes, labels, strict=True)
        )
        return RoutePlan(alias.name, tenant.tenant_id, constraint, access, entries=entries)

    mine = [o for o in active_overrides(overrides, now) if o.alias == alias.name]
    drains: dict[str, Override] = {}
    for o in mine:
        if o.kind == "drain":
            drains.setdefault(o.provider, o)
    pin = next((o for o in reversed(mine) if o.kind == "pin"), None)  # newest pin wins

    judged = _judge(matrix, alias, constraint, health, drains, labels)
    ready = [j for j in judged if j.decision == "candidate"]
    pinned = [j for j in ready if pin and j.route.provider == pin.provider]
    ordered = pinned + [j for j in ready if not (pin and j.route.provider == pin.provider)]
    candidates: list[Candidate] = []
    for j in ordered:
        provider = matrix.providers[j.route.provider]  # _judge excluded unknown providers
        if provider.china_gated and (j.index > 0 or candidates):
            j.decision, j.reason = "excluded", _CHINA_BEHIND_PIN
            continue
        notes = [
            _override_note("pinned", pin) if pin and j.route.provider == pin.provider else j.label
        ]
        if j.view.state == "half_open":
            notes.append("circuit half-open: trial request")
        j.reason, j.order = "; ".join(notes), len(candidates)
        candidates.append(Candidate(j.route, provider, j.label, j.reason))

    eligible = [j for j in judged if j.eligible]
    all_open = bool(eligible) and not ready
    if all_open:
        probe = _choose_probe(eligible, now)
        if probe is not None:
            probe.decision, probe.reason, probe.order = "candidate", PROBE_REASON, 0
            provider = matrix.providers[probe.route.provider]
            candidates.append(
                Candidate(probe.route, provider, probe.label, PROBE_REASON, probe=True)
            )

    if pin is not None:
        for j in judged:
            if j.route.provider == pin.provider and j.decision != "candidate":
                j.reason += f"; pin by override #{pin.id} not applied"
    return RoutePlan(
        alias.name,
        tenant.tenant_id,
        constraint,
        access,
        tuple(candidates),
        tuple(PlanEntry(j.route, j.label, j.decision, j.reason, j.order) for j in judged),
        all_open,
        tuple(o.id for o in mine),
    )


def _judge(
    matrix: Matrix,
    alias: Alias,
    constraint: frozenset[str],
    health: Mapping[Route, CircuitView],
    drains: Mapping[str, Override],
    labels: list[str],
) -> list[_Judged]:
    judged: list[_Judged] = []
    earlier: set[Route] = set()
    for i, route in enumerate(alias.routes):
        j = _Judged(i, route, labels[i], "candidate", labels[i])
        excluded = _rule_exclusion(matrix, i, route, constraint, earlier)
        earlier.add(route)
        if excluded:
            j.decision, j.reason = "excluded", excluded
        elif route.provider in drains:
            j.decision, j.reason = "drained", _override_note("drained", drains[route.provider])
        else:
            j.eligible, j.view = True, health.get(route, CLOSED)
            skip = _health_skip(j.view)
            if skip:
                j.decision, j.reason = "skipped", skip
        judged.append(j)
    return judged


def _choose_probe(eligible: list[_Judged], now: float) -> _Judged | None:
    if any(j.view.state == "half_open" for j in eligible):
        return None  # a trial is already in flight: everyone else fails fast
    ready = [
        j
        for j in eligible
        if j.view.state == "open"
        and (j.view.probe_ready_at is None or j.view.probe_ready_at <= now)
    ]
    if not ready:
        return None

    # NaN/None opening times sort first: an unknown opening is treated as long ago.
    def opened(j: _Judged) -> float:
        at = j.view.opened_at
        return -math.inf if at is None or math.isnan(at) else at

    return min(ready, key=lambda j: (opened(j), j.index))
