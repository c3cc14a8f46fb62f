"""Planner + circuit book driven together over simulated time, the way the executor will use them.

The loop below is the executor's contract in miniature: plan, claim each
candidate (`allow_probe` for the probe, `allow` otherwise), attempt, record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from sekisho.routing.circuit import CircuitBook, CircuitSettings
from sekisho.routing.outcome import Outcome, classify_status, final_error
from sekisho.routing.plan import plan_routes

from .builders import demo_matrix, tenant

M = demo_matrix()
Upstream = Callable[[str, float], int]  # (provider id, now) -> HTTP status


def serve(
    book: CircuitBook, alias_name: str, upstream: Upstream, now: float, hits: Counter[str]
) -> str:
    """One request: returns the provider that served it, or the final error code."""
    plan = plan_routes(M, alias_name, tenant(), book.snapshot(now), [], now)
    outcomes: list[Outcome] = []
    for c in plan.candidates:
        key = c.route
        if not (book.allow_probe(key, now) if c.probe else book.allow(key, now)):
            continue
        hits[key.provider] += 1
        outcome = classify_status(upstream(key.provider, now))
        if outcome.ok:
            book.record_success(key, now)
            return key.provider
        outcomes.append(outcome)
        if outcome.counts_against_circuit:
            book.record_failure(key, now)
        if not outcome.failover:
            return "request_error"
    return final_error(outcomes)


def run(
    upstream: Upstream, seconds: int, rps: int = 10, alias_name: str = "chat-jp"
) -> tuple[list[tuple[float, str]], Counter[str]]:
    book, hits = CircuitBook(), Counter[str]()
    results = []
    for tick in range(seconds * rps):
        now = 1_000.0 + tick / rps
        results.append((now, serve(book, alias_name, upstream, now, hits)))
    return results, hits


def test_sovereign_routes_down_fails_502_without_hammering_or_leaking() -> None:
    def upstream(pid: str, now: float) -> int:
        return 200 if pid == "global" else 503

    results, hits = run(upstream, seconds=120)
    assert {r for _, r in results} == {"upstream_unavailable"}
    assert hits["global"] == 0  # the non-sovereign fallback is never touched
    # 1200 requests; without a breaker each route would see 1200 attempts. With one: the
    # failures that open it, then one probe per probe interval.
    s = CircuitSettings()
    assert hits["kumo"] + hits["hoshi"] <= 2 * (s.failure_threshold + 120 / s.probe_interval_s)
    assert hits["kumo"] > 5 and hits["hoshi"] > 5  # probes rotate between the two


def test_recovers_once_the_provider_comes_back() -> None:
    def upstream(pid: str, now: float) -> int:
        return 200 if pid == "kumo" and now >= 1_060.0 else 503

    results, _ = run(upstream, seconds=120)
    assert all(r == "upstream_unavailable" for t, r in results if t < 1_060.0)
    recovered = min(t for t, r in results if r == "kumo")
    assert recovered < 1_060.0 + 15.0
    assert all(r == "kumo" for t, r in results if t >= recovered)


def test_a_dead_primary_is_bypassed_and_only_trialled_after_cool_downs() -> None:
    def upstream(pid: str, now: float) -> int:
        return 503 if pid == "kumo" else 200

    results, hits = run(upstream, seconds=120)
    assert {r for _, r in results} == {"hoshi"}
    assert hits["kumo"] <= 5 + 4  # threshold, then one trial per (growing) cool-down


def test_upstream_rate_limiting_everywhere_is_reported_as_rate_limited() -> None:
    results, _ = run(lambda pid, now: 429, seconds=1)
    assert results[0][1] == "rate_limited"


def test_a_request_error_is_not_failed_over() -> None:
    results, hits = run(lambda pid, now: 400, seconds=1)
    assert {r for _, r in results} == {"request_error"}
    assert hits == Counter({"kumo": 10})


def test_concurrent_plans_let_exactly_one_probe_through() -> None:
    book = CircuitBook()
    for key in (M.aliases["chat-jp"].route, M.aliases["chat-jp"].fallbacks[0]):
        for _ in range(5):
            book.record_failure(key, 0.0)
    plans = [plan_routes(M, "chat-jp", tenant(), book.snapshot(10.0), [], 10.0) for _ in range(5)]
    assert all(p.all_open and p.probe is not None for p in plans)
    claims = [book.allow_probe(p.candidates[0].route, 10.0) for p in plans]
    assert claims == [True, False, False, False, False]
    later = plan_routes(M, "chat-jp", tenant(), book.snapshot(10.5), [], 10.5)
    assert later.all_open and later.candidates == ()
