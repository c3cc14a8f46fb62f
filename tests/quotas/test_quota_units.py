"""Quota policy and counters, without a server: plans, estimates, all-or-nothing admission."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sekisho.quotas.counters import LocalCounters
from sekisho.quotas.estimate import prompt_tokens, reserve_tokens
from sekisho.quotas.limits import QuotaLimits, check_limits, overlay
from sekisho.quotas.plan import month_of, plan_quota, refusal_message, retry_after_s

NOW = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC).timestamp()


def _plan(
    limits: QuotaLimits,
    rid: str = "r1",
    tokens: int = 10,
    stream: bool = False,
    key: str | None = "key_a",
    now: float = NOW,
):
    return plan_quota(
        limits,
        prefix="t:",
        tenant_id="ten_a",
        key_id=key,
        request_id=rid,
        tokens=tokens,
        stream=stream,
        now=now,
        lease_s=60,
    )


def test_unlimited_plans_nothing() -> None:
    assert QuotaLimits().unlimited
    assert _plan(QuotaLimits()).empty


def test_minute_windows_reset_on_the_minute() -> None:
    plan = _plan(QuotaLimits(rpm=5, tpm=100))
    assert [w.name for w in plan.windows] == ["rpm", "tpm"]
    assert plan.windows[0].reset_s == pytest.approx(30.0)
    assert plan.windows[1].cost == 10
    nxt = _plan(QuotaLimits(rpm=5), now=NOW + 30)
    assert nxt.windows[0].key != plan.windows[0].key


def test_month_rolls_over_in_december() -> None:
    label, reset = month_of(datetime(2027, 1, 1, tzinfo=UTC).timestamp() - 10)
    assert label == "202612"
    assert reset == pytest.approx(10.0)


def test_override_names_only_what_it_changes() -> None:
    defaults = QuotaLimits(rpm=600, tpm=200_000)
    eff = overlay(defaults, {"rpm": 5, "tpm": None})
    assert eff.rpm == 5 and eff.tpm is None
    assert overlay(defaults, None) is defaults


@pytest.mark.parametrize(
    "bad", [{"rpm": 0}, {"rpm": -1}, {"rpm": "5"}, {"rpm": True}, {"rpm": 1.5}, {"nope": 3}]
)
def test_bad_limits_are_refused_by_name(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        check_limits(bad)


def test_estimate_reserves_prompt_and_completion() -> None:
    messages = [{"role": "user", "content": "x" * 400}]
    assert prompt_tokens(messages) == 100 + 4
    assert reserve_tokens(messages, 50, 1024) == 154
    assert reserve_tokens(messages, None, 1024) == 104 + 1024
    parts = [{"role": "user", "content": [{"type": "text", "text": "abcd"}, {"type": "image_url"}]}]
    assert prompt_tokens(parts) == 1 + 16 + 4


def test_refusal_words_say_what_to_do() -> None:
    assert "Retry after 30 seconds" in refusal_message("rpm", 5, 1, 29.2)
    assert retry_after_s("rpm", 5, 1, 29.2) == 30
    alone = refusal_message("tpm", 100, 500, 10)
    assert "alone" in alone and retry_after_s("tpm", 100, 500, 10) is None
    assert "budget" in refusal_message("monthly_tokens", 1000, 20, 86400 * 3)


def test_local_admission_is_all_or_nothing() -> None:
    counters = LocalCounters(clock=lambda: NOW)
    limits = QuotaLimits(rpm=10, tpm=25)

    async def go() -> list[bool]:
        out = []
        for i in range(4):
            out.append((await counters.admit(_plan(limits, rid=f"r{i}"), NOW)).ok)
        return out

    assert asyncio.run(go()) == [True, True, False, False]  # tpm 25 fits two requests of 10
    # The refused requests did not count against rpm.
    rpm_key = _plan(limits).windows[0].key
    assert counters._windows[rpm_key].value == 2


def test_local_leases_end_on_release_or_expiry() -> None:
    clock = [NOW]
    counters = LocalCounters(clock=lambda: clock[0])
    limits = QuotaLimits(concurrent_streams=1)

    async def go() -> list[bool]:
        a = await counters.admit(_plan(limits, rid="a", stream=True), clock[0])
        b = await counters.admit(_plan(limits, rid="b", stream=True), clock[0])
        await counters.release({_plan(limits, stream=True).leases[0].key: "a"})
        c = await counters.admit(_plan(limits, rid="c", stream=True), clock[0])
        clock[0] += 61  # c's lease (60 s) has run out although nobody released it
        d = await counters.admit(_plan(limits, rid="d", stream=True, now=clock[0]), clock[0])
        return [a.ok, b.ok, c.ok, d.ok]

    assert asyncio.run(go()) == [True, False, True, True]


def test_adjust_never_resurrects_an_expired_window() -> None:
    clock = [NOW]
    counters = LocalCounters(clock=lambda: clock[0])
    plan = _plan(QuotaLimits(tpm=100))

    async def go() -> dict[str, int]:
        await counters.admit(plan, NOW)
        clock[0] += 500
        return await counters.adjust({plan.windows[0].key: -5})

    assert asyncio.run(go()) == {}


@settings(max_examples=100, deadline=None)
@given(limit=st.integers(1, 40), costs=st.lists(st.integers(1, 15), max_size=30))
def test_admitted_tokens_never_exceed_the_limit(limit: int, costs: list[int]) -> None:
    counters = LocalCounters(clock=lambda: NOW)
    limits = QuotaLimits(tpm=limit)

    async def go() -> int:
        admitted = 0
        for i, cost in enumerate(costs):
            if (await counters.admit(_plan(limits, rid=str(i), tokens=cost), NOW)).ok:
                admitted += cost
        return admitted

    # The oracle: requests in order, each admitted exactly when it still fits.
    expected = 0
    for cost in costs:
        if expected + cost <= limit:
            expected += cost
    assert asyncio.run(go()) == expected <= limit
