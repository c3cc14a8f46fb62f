"""The key cache: bounded staleness, refresh-ahead, single flight, fail closed."""

from __future__ import annotations

import asyncio
import threading

import pytest

from sekisho.errors import ServiceUnavailable
from sekisho.tenancy.authcache import KeyCache, KeyRecord
from sekisho.tenancy.snapshot import KeySnapshot, TenantSnapshot


def _record(state: str = "active") -> KeyRecord:
    tenant = TenantSnapshot("ten_1", "acme", state, None, False, None)
    key = KeySnapshot("key_1", "ten_1", "sks_000000000001", "h", None, None, None)
    return key, tenant


class Store:
    """A loader whose answers, failures and call count the test controls."""

    def __init__(self) -> None:
        self.record: KeyRecord | None = _record()
        self.fail = False
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()

    def load_key(self, prefix: str) -> KeyRecord | None:
        self.calls += 1
        self.gate.wait(5)
        if self.fail:
            raise OSError("store down")
        return self.record


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _cache(store: Store, clock: Clock) -> KeyCache:
    return KeyCache(store, ttl_s=1.0, max_stale_s=5.0, clock=clock, load_timeout_s=0.5)


def test_fresh_entries_are_served_from_memory() -> None:
    store, clock = Store(), Clock()

    async def run() -> None:
        cache = _cache(store, clock)
        assert await cache.lookup("p") == _record()
        clock.now += 0.4
        assert await cache.lookup("p") == _record()

    asyncio.run(run())
    assert store.calls == 1


def test_refresh_ahead_keeps_a_busy_key_off_the_store_path() -> None:
    store, clock = Store(), Clock()

    async def run() -> None:
        cache = _cache(store, clock)
        await cache.lookup("p")
        clock.now += 0.6  # past half the TTL: served at once, refreshed behind
        store.record = _record("suspended")
        assert (await cache.lookup("p"))[1].state == "active"  # type: ignore[index]
        await asyncio.sleep(0.05)
        assert store.calls == 2
        clock.now += 0.1
        assert (await cache.lookup("p"))[1].state == "suspended"  # type: ignore[index]

    asyncio.run(run())


def test_expired_entry_is_reconfirmed_before_use() -> None:
    store, clock = Store(), Clock()

    async def run() -> None:
        cache = _cache(store, clock)
        await cache.lookup("p")
        store.record = None  # the key was deleted / revoked at the source
        clock.now += 1.01
        assert await cache.lookup("p") is None

    asyncio.run(run())


def test_concurrent_misses_load_once() -> None:
    store, clock = Store(), Clock()
    store.gate.clear()

    async def run() -> None:
        cache = _cache(store, clock)
        waiters = [asyncio.ensure_future(cache.lookup("p")) for _ in range(20)]
        await asyncio.sleep(0.05)
        store.gate.set()
        assert all(r == _record() for r in await asyncio.gather(*waiters))

    asyncio.run(run())
    assert store.calls == 1


def test_store_failure_serves_within_the_bound_then_fails_closed() -> None:
    store, clock = Store(), Clock()

    async def run() -> None:
        cache = _cache(store, clock)
        await cache.lookup("p")
        store.fail = True
        clock.now += 3.0  # stale but within max_stale_s
        assert await cache.lookup("p") == _record()
        clock.now += 2.5  # past max_stale_s: refuse, never serve
        with pytest.raises(ServiceUnavailable):
            await cache.lookup("p")
        with pytest.raises(ServiceUnavailable):  # a key never seen: refuse at once
            await cache.lookup("q")

    asyncio.run(run())


def test_stalled_store_counts_as_failed() -> None:
    store, clock = Store(), Clock()
    store.gate.clear()

    async def run() -> None:
        cache = _cache(store, clock)
        started = asyncio.get_running_loop().time()
        with pytest.raises(ServiceUnavailable):
            await cache.lookup("p")
        assert asyncio.get_running_loop().time() - started < 1.5
        store.gate.set()

    asyncio.run(run())


def test_invalidation_drops_at_once_and_an_overlapping_load_is_not_cached() -> None:
    store, clock = Store(), Clock()

    async def run() -> None:
        cache = _cache(store, clock)
        await cache.lookup("p")
        store.record = _record("suspended")
        cache.invalidate_tenant("ten_1")
        assert len(cache) == 0
        assert (await cache.lookup("p"))[1].state == "suspended"  # type: ignore[index]

    asyncio.run(run())


class Timers:
    """A scheduler the test fires by hand: (delay, callback, cancelled?) per timer."""

    class Handle:
        def __init__(self) -> None:
            self.cancelled = False

        def cancel(self) -> None:
            self.cancelled = True

    def __init__(self) -> None:
        self.pending: list[tuple[float, object, Timers.Handle]] = []

    def __call__(self, delay: float, callback: object) -> Timers.Handle:
        handle = Timers.Handle()
        self.pending.append((delay, callback, handle))
        return handle

    def fire(self) -> int:
        """Run every timer due (not cancelled); how many ran."""
        due, self.pending = self.pending, []
        ran = 0
        for _delay, callback, handle in due:
            if not handle.cancelled:
                callback()  # type: ignore[operator]
                ran += 1
        return ran


def _warm_cache(store: Store, clock: Clock, timers: Timers) -> KeyCache:
    return KeyCache(
        store, ttl_s=1.0, max_stale_s=5.0, clock=clock, load_timeout_s=0.5, schedule=timers
    )


async def _until(condition: object) -> None:
    while not condition():  # type: ignore[operator]
        await asyncio.sleep(0.001)


def test_a_key_in_use_is_kept_fresh_between_requests_without_a_store_call() -> None:
    """Streams 1.3 s apart (longer than the TTL): the next one is answered from memory."""
    store, clock, timers = Store(), Clock(), Timers()

    async def run() -> None:
        cache = _warm_cache(store, clock, timers)
        await cache.lookup("p")
        assert store.calls == 1 and [d for d, _, _ in timers.pending] == [0.5]
        clock.now += 0.5  # half the TTL: the timer re-confirms it in the background
        store.record = _record("suspended")
        assert timers.fire() == 1
        await _until(lambda: timers.pending)  # reloaded and stored: the next timer is set
        assert store.calls == 2
        clock.now += 0.8  # 1.3 s after the first load, 0.8 s after the second
        calls = store.calls
        found = await cache.lookup("p")
        assert store.calls == calls  # no store call (no thread hop) on the request path
        assert found is not None and found[1].state == "suspended"  # and never older than 1 s

    asyncio.run(run())


def test_an_idle_key_is_left_to_expire() -> None:
    store, clock, timers = Store(), Clock(), Timers()

    async def run() -> None:
        cache = _warm_cache(store, clock, timers)
        await cache.lookup("p")
        clock.now += 5.0  # unused for max_stale_s
        assert timers.fire() == 1
        await asyncio.sleep(0.01)
        assert store.calls == 1 and not timers.pending  # no load, no further timer
        clock.now += 0.1
        await cache.lookup("p")  # its next use re-confirms it first
        assert store.calls == 2

    asyncio.run(run())


def test_a_revoked_key_is_refused_right_after_invalidation() -> None:
    store, clock, timers = Store(), Clock(), Timers()

    async def run() -> None:
        cache = _warm_cache(store, clock, timers)
        assert await cache.lookup("p") is not None
        assert await cache.lookup("p") is not None
        assert store.calls == 1  # the second lookup was answered from memory
        store.record = None  # revoked at the source; the bus tells this replica
        cache.invalidate_key("p")
        assert all(handle.cancelled for _, _, handle in timers.pending)
        assert await cache.lookup("p") is None  # at once, not after the TTL
        assert store.calls == 2

    asyncio.run(run())
