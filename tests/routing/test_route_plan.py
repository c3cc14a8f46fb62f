"""The route planner, case by case: every decision and the reason it gives."""

from __future__ import annotations

import json

from sekisho.matrix.model import Route
from sekisho.routing.circuit import CircuitView
from sekisho.routing.plan import PROBE_REASON, RoutePlan, plan_routes

from .builders import JP, alias, demo_matrix, matrix, open_view, override, provider, tenant

M = demo_matrix()
KUMO, HOSHI, GLOBAL = Route("kumo", "m"), Route("hoshi", "m"), Route("global", "m")


def reasons(plan: RoutePlan) -> dict[str, str]:
    return {e.route.provider: e.reason for e in plan.entries}


def tried(plan: RoutePlan) -> list[str]:
    return [c.route.provider for c in plan.candidates]


def test_healthy_unconstrained_plan_is_the_matrix_order() -> None:
    plan = plan_routes(M, "chat-large", tenant(), {}, [], 100.0)
    assert tried(plan) == ["global", "kumo", "hoshi", "eu"]
    assert [c.reason for c in plan.candidates] == [
        "primary",
        "fallback 1",
        "fallback 2",
        "fallback 3",
    ]
    assert [e.order for e in plan.entries] == [0, 1, 2, 3]
    assert plan.candidates[0].provider is M.providers["global"]
    assert plan.candidates[0].model == "m"
    assert not plan.all_open and plan.probe is None


def test_sovereign_alias_excludes_the_non_sovereign_fallback() -> None:
    plan = plan_routes(M, "chat-jp", tenant(), {}, [], 100.0)
    assert tried(plan) == ["kumo", "hoshi"]
    assert reasons(plan)["global"] == "excluded: does not satisfy jp_sovereign"
    assert plan.constraint == {JP}


def test_sovereign_tenant_constrains_an_unconstrained_alias() -> None:
    plan = plan_routes(M, "chat-large", tenant(JP), {}, [], 100.0)
    assert plan.access.denial == "primary_does_not_satisfy"
    assert plan.candidates == ()
    assert all(
        e.reason.startswith("excluded: alias not usable by this tenant") for e in plan.entries
    )


def test_sovereign_tenant_on_a_sovereign_alias() -> None:
    m = matrix(
        [provider("a", JP, "eu_sovereign"), provider("b", JP), provider("c", "eu_sovereign")],
        [alias("x", "a", "b", "c")],
    )
    plan = plan_routes(m, "x", tenant("eu_sovereign"), {}, [], 0.0)
    assert tried(plan) == ["a", "c"]
    assert reasons(plan)["b"] == "excluded: does not satisfy eu_sovereign"


def test_china_gated_primary_for_a_granted_tenant() -> None:
    plan = plan_routes(M, "chat-cn", tenant(china=True), {}, [], 0.0)
    assert tried(plan) == ["cn", "global"]
    assert plan.candidates[0].reason == "primary"


def test_china_gated_primary_without_the_grant_is_not_usable() -> None:
    plan = plan_routes(M, "chat-cn", tenant(), {}, [], 0.0)
    assert plan.access.denial == "china_gate_not_granted"
    assert plan.candidates == ()


def test_china_gated_fallback_in_a_bad_matrix_is_excluded_at_run_time() -> None:
    m = matrix([provider("a"), provider("cn", china=True)], [alias("x", "a", "cn", "cn/m2")])
    plan = plan_routes(m, "x", tenant(china=True), {}, [], 0.0)
    assert tried(plan) == ["a"]
    assert [e.reason for e in plan.entries[1:]] == [
        "excluded: China-gated providers are never a fallback"
    ] * 2


def test_china_gated_provider_is_not_a_fallback_even_of_its_own_primary() -> None:
    m = matrix([provider("cn", china=True), provider("b")], [alias("x", "cn", "cn/m2", "b")])
    plan = plan_routes(m, "x", tenant(china=True), {}, [], 0.0)
    assert [(c.route.provider, c.route.model) for c in plan.candidates] == [("cn", "m"), ("b", "m")]
    assert plan.entries[1].reason == "excluded: China-gated providers are never a fallback"


def test_unknown_provider_and_repeated_route_in_a_bad_matrix() -> None:
    m = matrix([provider("a"), provider("b")], [alias("x", "a", "ghost", "a", "b")])
    plan = plan_routes(m, "x", tenant(), {}, [], 0.0)
    assert tried(plan) == ["a", "b"]
    assert [e.reason for e in plan.entries] == [
        "primary",
        "excluded: provider 'ghost' is not in the matrix",
        "excluded: repeats an earlier route",
        "fallback 3",
    ]


def test_unknown_alias_plans_nothing() -> None:
    plan = plan_routes(M, "nope", tenant(), {}, [], 0.0)
    assert plan.access.denial == "unknown_alias"
    assert plan.entries == () and plan.candidates == ()


def test_open_circuit_is_skipped_with_its_reopen_time() -> None:
    health = {KUMO: open_view(opened_at=90.0, open_until=120.0)}
    plan = plan_routes(M, "chat-jp", tenant(), health, [], 100.0)
    assert tried(plan) == ["hoshi"]
    assert reasons(plan)["kumo"] == "skipped: circuit open (until 1970-01-01T00:02:00Z)"
    assert plan.candidates[0].reason == "fallback 1"


def test_half_open_circuit_offers_a_trial_or_is_skipped_when_busy() -> None:
    free = {KUMO: CircuitView("half_open", opened_at=1.0, trial_available=True)}
    plan = plan_routes(M, "chat-jp", tenant(), free, [], 100.0)
    assert plan.candidates[0].reason == "primary; circuit half-open: trial request"
    busy = {KUMO: CircuitView("half_open", opened_at=1.0, trial_available=False)}
    plan = plan_routes(M, "chat-jp", tenant(), busy, [], 100.0)
    assert tried(plan) == ["hoshi"]
    assert reasons(plan)["kumo"] == "skipped: circuit half-open, a trial request is in flight"


def test_drain_excludes_the_provider_with_the_override_reason() -> None:
    drain = override("12", "chat-jp", "drain", "kumo", reason="elevated 5xx")
    plan = plan_routes(M, "chat-jp", tenant(), {}, [drain], 100.0)
    assert tried(plan) == ["hoshi"]
    assert reasons(plan)["kumo"] == "drained by override #12 (elevated 5xx)"
    assert plan.entries[0].decision == "drained"
    assert plan.overrides == ("12",)


def test_overrides_of_other_aliases_and_inactive_ones_do_not_apply() -> None:
    others = [
        override("1", "chat-large", "drain", "kumo"),
        override("2", "chat-jp", "drain", "kumo", expires_at=50.0),
        override("3", "chat-jp", "drain", "kumo", created_at=200.0),
        override("4", "chat-jp", "drain", "kumo", reverted_at=99.0),
    ]
    plan = plan_routes(M, "chat-jp", tenant(), {}, others, 100.0)
    assert tried(plan) == ["kumo", "hoshi"]
    assert plan.overrides == ()


def test_pin_moves_the_route_first_and_the_rest_follow_in_order() -> None:
    pin = override("7", "chat-large", "pin", "hoshi", reason="kumo degraded")
    plan = plan_routes(M, "chat-large", tenant(), {}, [pin], 100.0)
    assert tried(plan) == ["hoshi", "global", "kumo", "eu"]
    assert plan.candidates[0].reason == "pinned by override #7 (kumo degraded)"
    assert plan.candidates[1].reason == "primary"


def test_newest_pin_wins_and_drain_beats_pin() -> None:
    pins = [
        override("7", "chat-large", "pin", "hoshi", created_at=1.0),
        override("8", "chat-large", "pin", "eu", created_at=2.0),
    ]
    assert tried(plan_routes(M, "chat-large", tenant(), {}, pins, 100.0))[0] == "eu"
    drained = [*pins, override("9", "chat-large", "drain", "eu", created_at=3.0)]
    plan = plan_routes(M, "chat-large", tenant(), {}, drained, 100.0)
    assert tried(plan) == ["global", "kumo", "hoshi"]
    assert (
        reasons(plan)["eu"]
        == "drained by override #9 (maintenance); pin by override #8 not applied"
    )


def test_pin_is_not_applied_for_a_tenant_it_would_break() -> None:
    # The pin is valid for the alias (no alias requirement) but not for a JP tenant.
    m = matrix([provider("a", JP), provider("b", JP), provider("c")], [alias("x", "a", "b", "c")])
    pin = override("7", "x", "pin", "c")
    assert tried(plan_routes(m, "x", tenant(), {}, [pin], 0.0)) == ["c", "a", "b"]
    plan = plan_routes(m, "x", tenant(JP), {}, [pin], 0.0)
    assert tried(plan) == ["a", "b"]
    assert reasons(plan)["c"] == (
        "excluded: does not satisfy jp_sovereign; pin by override #7 not applied"
    )


def test_pin_onto_an_open_circuit_falls_back_to_the_normal_order() -> None:
    pin = override("7", "chat-jp", "pin", "hoshi")
    health = {HOSHI: open_view(90.0, 120.0)}
    plan = plan_routes(M, "chat-jp", tenant(), health, [pin], 100.0)
    assert tried(plan) == ["kumo"]
    assert reasons(plan)["hoshi"].endswith("; pin by override #7 not applied")


def test_pin_ahead_of_a_china_gated_primary_takes_the_primary_out() -> None:
    pin = override("7", "chat-cn", "pin", "global")
    plan = plan_routes(M, "chat-cn", tenant(china=True), {}, [pin], 0.0)
    assert tried(plan) == ["global"]
    assert reasons(plan)["cn"] == (
        "excluded: China-gated providers are never a fallback (a pinned route is ahead of it)"
    )


def test_pinned_route_in_half_open_gets_both_notes() -> None:
    pin = override("7", "chat-jp", "pin", "hoshi", reason="r")
    health = {HOSHI: CircuitView("half_open", opened_at=1.0)}
    plan = plan_routes(M, "chat-jp", tenant(), health, [pin], 100.0)
    assert (
        plan.candidates[0].reason == "pinned by override #7 (r); circuit half-open: trial request"
    )


# --- every eligible route open ------------------------------------------------


def test_all_open_offers_one_probe_on_the_route_that_opened_earliest() -> None:
    health = {KUMO: open_view(80.0, 200.0), HOSHI: open_view(60.0, 200.0)}
    plan = plan_routes(M, "chat-jp", tenant(), health, [], 100.0)
    assert plan.all_open
    assert tried(plan) == ["hoshi"]
    assert plan.probe is plan.candidates[0]
    assert plan.candidates[0].reason == PROBE_REASON
    assert reasons(plan)["kumo"].startswith("skipped: circuit open")
    # The non-sovereign fallback is never probed, even when it is the only healthy route.
    assert reasons(plan)["global"] == "excluded: does not satisfy jp_sovereign"


def test_all_open_fails_fast_while_a_trial_is_in_flight() -> None:
    health = {
        KUMO: open_view(80.0, 200.0),
        HOSHI: CircuitView("half_open", opened_at=60.0, trial_available=False),
    }
    plan = plan_routes(M, "chat-jp", tenant(), health, [], 100.0)
    assert plan.all_open and plan.candidates == ()


def test_all_open_fails_fast_until_a_probe_is_due() -> None:
    health = {KUMO: open_view(98.0, 200.0), HOSHI: open_view(97.0, 200.0)}
    plan = plan_routes(M, "chat-jp", tenant(), health, [], 100.0)
    assert plan.all_open and plan.candidates == ()


def test_all_drained_is_not_all_open() -> None:
    drains = [override("1", "chat-jp", "drain", "kumo"), override("2", "chat-jp", "drain", "hoshi")]
    plan = plan_routes(M, "chat-jp", tenant(), {}, drains, 100.0)
    assert plan.candidates == () and not plan.all_open


def test_to_log_is_json_and_names_every_route() -> None:
    health = {KUMO: open_view(90.0, 120.0)}
    pin = override("7", "chat-jp", "pin", "hoshi")
    log = json.loads(json.dumps(plan_routes(M, "chat-jp", tenant(), health, [pin], 100.0).to_log()))
    assert log["alias"] == "chat-jp" and log["constraint"] == [JP]
    assert [e["provider"] for e in log["entries"]] == ["kumo", "hoshi", "global"]
    assert log["candidates"] == [
        {
            "provider": "hoshi",
            "model": "m",
            "reason": "pinned by override #7 (maintenance)",
            "probe": False,
        }
    ]
    assert log["overrides"] == ["7"] and log["access"]["usable"] is True
