"""The shared counters behind quotas: Redis (one atomic Lua script per admission) or in-process.

Both implement `Counters` with the same semantics, so the service never cares which one it
has: `admit` checks every counter of a plan and moves them all or none; `adjust` moves token
counters by the difference between reserved and real usage (only counters that still exist,
so a late settlement never resurrects an expired window); `release` ends a stream's lease.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import redis.asyncio as aioredis

from sekisho.quotas.plan import QuotaPlan

_ADMIT = """
local now = tonumber(ARGV[1])
local nw = tonumber(ARGV[2])
local nl = #KEYS - nw
local values = {}
for i = 1, nw do
  local limit = tonumber(ARGV[3 + (i - 1) * 3])
  local cost = tonumber(ARGV[4 + (i - 1) * 3])
  local cur = tonumber(redis.call('GET', KEYS[i]) or '0')
  if cur + cost > limit then return {i, cur} end
  values[i] = cur
end
local base = 3 + nw * 3
for j = 1, nl do
  local key = KEYS[nw + j]
  local limit = tonumber(ARGV[base + (j - 1) * 3])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local cur = redis.call('ZCARD', key)
  if cur + 1 > limit then return {nw + j, cur} end
  values[nw + j] = cur
end
for i = 1, nw do
  local cost = tonumber(ARGV[4 + (i - 1) * 3])
  values[i] = redis.call('INCRBY', KEYS[i], cost)
  if redis.call('PTTL', KEYS[i]) < 0 then
    redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[5 + (i - 1) * 3]))
  end
end
for j = 1, nl do
  local key = KEYS[nw + j]
  local expires = tonumber(ARGV[base + (j - 1) * 3 + 2])
  redis.call('ZADD', key, expires, ARGV[base + (j - 1) * 3 + 1])
  redis.call('PEXPIREAT', key, math.max(expires, redis.call('PEXPIRETIME', key)))
  values[nw + j] = values[nw + j] + 1
end
local out = {0}
for k = 1, #values do out[k + 1] = values[k] end
return out
"""

_ADJUST = """
local out = {}
local n = #KEYS
for i = 1, n do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    out[i] = redis.call('INCRBY', KEYS[i], tonumber(ARGV[i]))
  else
    out[i] = -1
  end
end
return out
"""


@dataclass(frozen=True, slots=True)
class Admission:
    """`refused` is the index of the counter that refused (windows first, then leases)."""

    ok: bool
    values: tuple[int, ...] = ()  # every counter's value after admission, in plan order
    refused: int | None = None
    current: int = 0


class Counters(Protocol):
    async def admit(self, plan: QuotaPlan, now: float) -> Admission: ...
    async def adjust(self, deltas: dict[str, int]) -> dict[str, int]: ...
    async def release(self, leases: dict[str, str]) -> None: ...
    async def seed(self, key: str, value: int, ttl_s: int) -> None: ...
    async def close(self) -> None: ...


class RedisCounters:
    """Counters in Redis, shared by every replica; every call is one round trip."""

    def __init__(self, url: str, *, timeout_s: float = 1.0, max_connections: int = 32) -> None:
        # A bounded pool: a burst of requests queues for a connection instead of opening
        # hundreds at once (which times out and would look like Redis being down).
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s * 2,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
        )
        self._client = aioredis.Redis(connection_pool=pool)
        self._admit = self._client.register_script(_ADMIT)
        self._adjust = self._client.register_script(_ADJUST)

    async def admit(self, plan: QuotaPlan, now: float) -> Admission:
        keys = [w.key for w in plan.windows] + [lease.key for lease in plan.leases]
        args: list[int | str] = [int(now * 1000), len(plan.windows)]
        for w in plan.windows:
            args += [w.limit, w.cost, w.ttl_s * 1000]
        for lease in plan.leases:
            args += [lease.limit, lease.member, lease.expires_at_ms]
        raw = await self._admit(keys=keys, args=args)
        if int(raw[0]) != 0:
            return Admission(ok=False, refused=int(raw[0]) - 1, current=int(raw[1]))
        return Admission(ok=True, values=tuple(int(v) for v in raw[1:]))

    async def adjust(self, deltas: dict[str, int]) -> dict[str, int]:
        if not deltas:
            return {}
        keys = list(deltas)
        raw = await self._adjust(keys=keys, args=[deltas[k] for k in keys])
        return {k: int(v) for k, v in zip(keys, raw, strict=True) if int(v) >= 0}

    async def release(self, leases: dict[str, str]) -> None:
        if leases:
            pipe = self._client.pipeline(transaction=False)
            for key, member in leases.items():
                pipe.zrem(key, member)
            await pipe.execute()

    async def seed(self, key: str, value: int, ttl_s: int) -> None:
        await self._client.set(key, value, ex=ttl_s, nx=True)

    async def close(self) -> None:
        await self._client.aclose()
        await self._client.connection_pool.disconnect()


@dataclass
class _Window:
    value: int
    expires_at: float


@dataclass
class LocalCounters:
    """In-process counters with Redis's semantics, for one replica (or a degraded share).

    Every method runs without awaiting, so on one event loop each call is atomic.
    """

    clock: Callable[[], float] = time.time
    _windows: dict[str, _Window] = field(default_factory=dict)
    _leases: dict[str, dict[str, float]] = field(default_factory=dict)
    _calls: int = 0

    def _sweep(self, now: float) -> None:
        self._calls += 1
        if self._calls % 1024:
            return
        for key in [k for k, w in self._windows.items() if w.expires_at <= now]:
            del self._windows[key]
        for key in [k for k, members in self._leases.items() if not members]:
            del self._leases[key]

    def _live(self, key: str, now: float) -> _Window | None:
        window = self._windows.get(key)
        if window is not None and window.expires_at <= now:
            del self._windows[key]
            return None
        return window

    async def admit(self, plan: QuotaPlan, now: float) -> Admission:
        self._sweep(now)
        values: list[int] = []
        for i, w in enumerate(plan.windows):
            window = self._live(w.key, now)
            current = window.value if window else 0
            if current + w.cost > w.limit:
                return Admission(ok=False, refused=i, current=current)
            values.append(current)
        for j, lease in enumerate(plan.leases):
            members = self._leases.setdefault(lease.key, {})
            for member in [m for m, exp in members.items() if exp * 1000 <= now * 1000]:
                del members[member]
            if len(members) + 1 > lease.limit:
                return Admission(ok=False, refused=len(plan.windows) + j, current=len(members))
            values.append(len(members))
        for i, w in enumerate(plan.windows):
            window = self._live(w.key, now)
            if window is None:
                window = self._windows[w.key] = _Window(0, now + w.ttl_s)
            window.value += w.cost
            values[i] = window.value
        for j, lease in enumerate(plan.leases):
            self._leases[lease.key][lease.member] = lease.expires_at_ms / 1000
            values[len(plan.windows) + j] += 1
        return Admission(ok=True, values=tuple(values))

    async def adjust(self, deltas: dict[str, int]) -> dict[str, int]:
        now = self.clock()
        out: dict[str, int] = {}
        for key, delta in deltas.items():
            window = self._live(key, now)
            if window is not None:
                window.value += delta
                out[key] = window.value
        return out

    async def release(self, leases: dict[str, str]) -> None:
        for key, member in leases.items():
            self._leases.get(key, {}).pop(member, None)

    async def seed(self, key: str, value: int, ttl_s: int) -> None:
        now = self.clock()
        if self._live(key, now) is None:
            self._windows[key] = _Window(value, now + ttl_s)

    async def close(self) -> None:
        return None
