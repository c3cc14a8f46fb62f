"""The shared counters against the real Redis: atomic across concurrent callers, degradation."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import pytest

from sekisho.errors import InsufficientQuota, RateLimited
from sekisho.quotas.counters import RedisCounters
from sekisho.quotas.limits import QuotaLimits
from sekisho.quotas.plan import plan_quota
from sekisho.quotas.service import QuotaService
from tests.support.databases import REDIS_URL

pytestmark = pytest.mark.redis

MSG = [{"role": "user", "content": "x" * 40}]  # 10 + 4 prompt tokens


async def _admit(
    service: QuotaService,
    rid: str,
    *,
    tenant: str = "ten_a",
    stream: bool = False,
    max_tokens: int = 6,
) -> Any:
    """One request of MSG for `tenant` (no key)."""
    return await service.admit(
        tenant_id=tenant,
        key_id=None,
        messages=MSG,
        max_tokens=max_tokens,
        stream=stream,
        request_id=rid,
    )


def _prefix() -> str:
    return f"t{secrets.token_hex(4)}:"


async def _admit_many(
    service: QuotaService, n: int, *, stream: bool = False, tenant: str = "ten_a"
) -> tuple[int, list[Exception]]:
    async def one(i: int) -> Exception | None:
        try:
            await service.admit(
                tenant_id=tenant,
                key_id="key_a",
                messages=MSG,
                max_tokens=6,
                stream=stream,
                request_id=f"r{i}-{secrets.token_hex(3)}",
            )
        except (RateLimited, InsufficientQuota) as exc:
            return exc
        return None

    results = await asyncio.gather(*(one(i) for i in range(n)))
    refused = [r for r in results if r is not None]
    return n - len(refused), refused


def test_several_services_sharing_redis_admit_exactly_the_limit() -> None:
    """Three replicas' services, 300 concurrent requests, rpm 100: exactly 100 get through."""

    async def go() -> int:
        prefix = _prefix()
        services = [
            # Atomic counting is under test, not the fallback: a burst on a loaded machine
            # must not time out into each service's own share.
            QuotaService(
                QuotaLimits(rpm=100),
                shared=RedisCounters(REDIS_URL, timeout_s=5.0),
                prefix=prefix,
            )
            for _ in range(3)
        ]
        # Stay inside one minute window so the figure is exact.
        if 60 - time.time() % 60 < 5:
            await asyncio.sleep(60 - time.time() % 60 + 0.1)
        counts = await asyncio.gather(*(_admit_many(s, 100) for s in services))
        for s in services:
            await s.close()
        return sum(admitted for admitted, _ in counts)

    assert asyncio.run(go()) == 100


def test_tokens_are_reserved_then_reconciled() -> None:
    async def go() -> tuple[int, str, bool]:
        service = QuotaService(
            QuotaLimits(tpm=100), shared=RedisCounters(REDIS_URL), prefix=_prefix()
        )
        if 60 - time.time() % 60 < 5:
            await asyncio.sleep(60 - time.time() % 60 + 0.1)
        # Each request reserves 14 + 6 = 20 tokens: five fit, the sixth does not.
        admitted, refused = await _admit_many(service, 6)
        remaining = refused[0].headers()["x-ratelimit-remaining-tokens"]
        # A request that ends having used no tokens (say its upstream failed) gives its 20 back.
        done = await _admit(service, "done", tenant="ten_b")
        for _ in range(4):
            await _admit(service, secrets.token_hex(3), tenant="ten_b")
        with pytest.raises(RateLimited):
            await _admit(service, "full", tenant="ten_b")
        service.settle(done, 0)
        await service.drain()
        again = await _admit(service, "again", tenant="ten_b")
        await service.close()
        return admitted, remaining, again is not None

    assert asyncio.run(go()) == (5, "0", True)


def test_concurrent_streams_are_leases_released_on_settle() -> None:
    async def go() -> tuple[int, int]:
        service = QuotaService(
            QuotaLimits(concurrent_streams=3), shared=RedisCounters(REDIS_URL), prefix=_prefix()
        )
        held = []
        for i in range(3):
            held.append(await _admit(service, f"s{i}", stream=True, max_tokens=1))
        admitted, _ = await _admit_many(service, 5, stream=True)
        service.settle(held[0], 3)
        await service.drain()
        after, _ = await _admit_many(service, 5, stream=True)
        await service.close()
        return admitted, after

    assert asyncio.run(go()) == (0, 1)


def test_monthly_budget_refuses_with_insufficient_quota_and_alerts() -> None:
    alerts: list[tuple[str, int]] = []

    async def go() -> InsufficientQuota:
        service = QuotaService(
            QuotaLimits(monthly_tokens=100),
            shared=RedisCounters(REDIS_URL),
            prefix=_prefix(),
            on_budget=lambda tenant, pct, used, limit: alerts.append((tenant, pct)),
        )
        reservations = []
        for i in range(5):  # 5 x 20 reserved = the whole budget
            reservations.append(await _admit(service, f"m{i}"))
        for r in reservations:
            service.settle(r, 20)
        await service.drain()
        try:
            await _admit(service, "over")
        except InsufficientQuota as exc:
            return exc
        finally:
            await service.close()
        raise AssertionError("the spent budget admitted a request")

    err = asyncio.run(go())
    assert err.status == 429 and err.code == "insufficient_quota"
    assert "budget" in err.message
    assert alerts == [("ten_a", 80), ("ten_a", 100)]


def test_redis_down_degrades_to_this_replicas_share_never_open() -> None:
    """With Redis unreachable and 4 live replicas, this replica admits a quarter of rpm."""

    async def go() -> tuple[int, int, bool]:
        service = QuotaService(
            QuotaLimits(rpm=40),
            shared=RedisCounters("redis://127.0.0.1:1/0", timeout_s=0.2),
            replicas=lambda: 4,
            prefix=_prefix(),
            redis_retry_s=60,
        )
        if 60 - time.time() % 60 < 5:
            await asyncio.sleep(60 - time.time() % 60 + 0.1)
        admitted, _refused = await _admit_many(service, 30)
        degraded = service.degraded
        await service.close()
        return admitted, service.stats.degraded_switches, degraded

    admitted, switches, degraded = asyncio.run(go())
    assert admitted == 10
    assert switches >= 1 and degraded


def test_plan_keys_hash_to_one_slot() -> None:
    plan = plan_quota(
        QuotaLimits(rpm=1, tpm=1, concurrent_streams=1, key_rpm=1),
        prefix="p:",
        tenant_id="ten_x",
        key_id="key_y",
        request_id="r",
        tokens=1,
        stream=True,
        now=0.0,
        lease_s=1,
    )
    keys = [w.key for w in plan.windows] + [lease.key for lease in plan.leases]
    assert all("{ten_x}" in k for k in keys)
