"""Property tests of the planner over random (including invalid) matrices, tenants, health, overrides."""

from __future__ import annotations

import json
import math
from typing import NamedTuple

from hypothesis import given, settings
from hypothesis import strategies as st

from sekisho.matrix.model import Matrix, Route
from sekisho.routing.availability import alias_access, usable_aliases
from sekisho.routing.circuit import CircuitView
from sekisho.routing.overrides import Override, active_overrides
from sekisho.routing.plan import RoutePlan, plan_routes
from sekisho.routing.policy import TenantPolicy, effective_constraint

from .builders import healths, matrices, override_lists, tenants, times, views

MAX = settings(max_examples=300, deadline=None)


class Scenario(NamedTuple):
    matrix: Matrix
    alias: str
    tenant: TenantPolicy
    health: dict[Route, CircuitView]
    overrides: list[Override]
    now: float

    def plan(self) -> RoutePlan:
        return plan_routes(*self)

    def active(self, kind: str) -> list[Override]:
        return [
            o
            for o in active_overrides(self.overrides, self.now)
            if o.alias == self.alias and o.kind == kind
        ]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    m = draw(matrices())
    name = draw(st.sampled_from([*sorted(m.aliases), "unknown"]))
    return Scenario(
        m, name, draw(tenants(m)), draw(healths(m)), draw(override_lists(m)), draw(times)
    )


def check_plan_is_well_formed_and_serializable(s: Scenario, plan: RoutePlan) -> None:
    m = s.matrix
    alias = m.aliases.get(s.alias)
    assert len(plan.entries) == (len(alias.routes) if alias else 0)
    if alias:
        assert [e.route for e in plan.entries] == list(alias.routes)
    chosen = sorted(
        (e for e in plan.entries if e.decision == "candidate"), key=lambda e: e.order or 0
    )
    assert [e.order for e in chosen] == list(range(len(plan.candidates)))
    assert [e.route for e in chosen] == [c.route for c in plan.candidates]
    for c in plan.candidates:
        assert c.provider == m.providers[c.route.provider]
    json.dumps(plan.to_log(), allow_nan=False)
    if not plan.access.usable:
        assert plan.candidates == ()


def check_a_constrained_plan_never_contains_a_provider_lacking_a_tag(
    s: Scenario, plan: RoutePlan
) -> None:
    if s.alias in s.matrix.aliases:
        required = effective_constraint(s.matrix.aliases[s.alias], s.tenant)
        assert plan.constraint == required
        for c in plan.candidates:
            assert required <= c.provider.sovereignty


def check_china_gated_only_as_the_primary_of_its_alias_for_a_granted_tenant(
    s: Scenario, plan: RoutePlan
) -> None:
    for position, c in enumerate(plan.candidates):
        if c.provider.china_gated:
            assert s.tenant.china_gated_access
            assert position == 0
            assert c.label == "primary" and c.route == s.matrix.aliases[s.alias].route


def check_order_is_honoured(s: Scenario, plan: RoutePlan) -> None:
    if not plan.candidates:
        return
    index: dict[Route, int] = {}
    for i, e in enumerate(plan.entries):
        index.setdefault(e.route, i)
    pins = s.active("pin")
    pinned = pins[-1].provider if pins else None
    on_pin = [c.route.provider == pinned for c in plan.candidates]
    assert on_pin == sorted(on_pin, reverse=True)  # pinned routes form a prefix
    for group in (True, False):
        positions = [
            index[c.route] for c, p in zip(plan.candidates, on_pin, strict=True) if p is group
        ]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)


def check_drained_and_unhealthy_routes_are_not_tried_except_the_one_probe(
    s: Scenario, plan: RoutePlan
) -> None:
    drained = {o.provider for o in s.active("drain")}
    probes = [c for c in plan.candidates if c.probe]
    assert len(probes) <= 1
    if probes:
        assert plan.all_open and len(plan.candidates) == 1
    for c in plan.candidates:
        assert c.route.provider not in drained
        view = s.health.get(c.route, CircuitView("closed"))
        if c.probe:
            assert view.state == "open"
        else:
            assert view.state == "closed" or (view.state == "half_open" and view.trial_available)


@MAX
@given(scenarios())
def test_every_plan_invariant_holds(s: Scenario) -> None:
    # One generated scenario feeds every check: generation, not checking, is the cost.
    plan = s.plan()
    check_plan_is_well_formed_and_serializable(s, plan)
    check_a_constrained_plan_never_contains_a_provider_lacking_a_tag(s, plan)
    check_china_gated_only_as_the_primary_of_its_alias_for_a_granted_tenant(s, plan)
    check_order_is_honoured(s, plan)
    check_drained_and_unhealthy_routes_are_not_tried_except_the_one_probe(s, plan)


@MAX
@given(matrices(), st.data())
def test_access_matches_the_primary_and_models_lists_usable_aliases(
    m: Matrix, data: st.DataObject
) -> None:
    tenant = data.draw(tenants(m))
    listed = usable_aliases(m, tenant)
    assert listed == sorted(listed)
    for name, alias in m.aliases.items():
        access = alias_access(m, name, tenant)
        assert access.usable == (name in listed)
        if access.usable:
            primary = m.providers[alias.route.provider]
            assert effective_constraint(alias, tenant) <= primary.sovereignty
            assert tenant.china_gated_access or not primary.china_gated
            assert tenant.tenant_allows(name) and tenant.key_allows(name)


odd_floats = st.floats() | st.sampled_from((math.nan, math.inf, -math.inf, 1e300))
odd_views = st.builds(
    CircuitView,
    st.sampled_from(("closed", "open", "half_open")),
    opened_at=st.none() | odd_floats,
    open_until=st.none() | odd_floats,
    probe_ready_at=st.none() | odd_floats,
    trial_available=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(matrices(), st.data(), odd_floats)
def test_the_planner_never_raises_on_odd_clocks(m: Matrix, data: st.DataObject, now: float) -> None:
    keys = sorted(
        {r for a in m.aliases.values() for r in a.routes}, key=lambda r: (r.provider, r.model)
    )
    health = data.draw(st.dictionaries(st.sampled_from(keys), odd_views | views))
    overrides = data.draw(override_lists(m))
    for name in m.aliases:
        plan = plan_routes(m, name, data.draw(tenants(m)), health, overrides, now)
        json.dumps(plan.to_log())
