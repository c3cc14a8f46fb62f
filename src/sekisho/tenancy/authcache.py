"""Bounded-staleness, in-process cache of API key and tenant state.

A lookup answered from memory is at most `ttl_s` old. Past that the entry is
re-confirmed from the store (one load per key however many requests wait:
single flight). If the store cannot answer, a cached entry younger than
`max_stale_s` still serves; anything older, or never seen, fails closed with
`503 service_unavailable` (Rule 6). An entry past half its `ttl_s` is still
served but refreshed in the background (refresh-ahead), so a key in steady use
never waits for the store on the request path. A key used within the last
`max_stale_s` is also kept warm between requests: a timer re-confirms it once it
is half its `ttl_s` old, so a key used every second or so (a stream that lasts
longer than the TTL, then the next one) is still answered from memory, with no
thread hop on the request path, and never from anything older than `ttl_s`. A
store that stalls instead of failing counts as failed after `load_timeout_s`. `invalidate_*` drop entries at once
(the cross-replica invalidation bus calls them) and bump a generation, so a
load that was already running when an invalidation arrived is not cached.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sekisho.errors import ServiceUnavailable
from sekisho.tenancy.snapshot import KeySnapshot, TenantSnapshot

KeyRecord = tuple[KeySnapshot, TenantSnapshot]


class CredentialLoader(Protocol):
    def load_key(self, prefix: str) -> KeyRecord | None:
        """Blocking store read; raises on store failure."""
        ...


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


# (delay_s, callback) -> handle; the running loop's `call_later` unless a test injects one.
Scheduler = Callable[[float, Callable[[], None]], TimerHandle]


@dataclass(slots=True)
class _Entry:
    record: KeyRecord | None
    fetched: float
    used: float  # last time a lookup was answered with it


class KeyCache:
    """Cache of prefix -> (key, tenant) snapshots, with fail-closed refresh."""

    def __init__(
        self,
        loader: CredentialLoader,
        *,
        ttl_s: float = 1.0,
        max_stale_s: float = 5.0,
        max_size: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        load_timeout_s: float = 2.0,
        schedule: Scheduler | None = None,
    ) -> None:
        self._loader = loader
        self._ttl = ttl_s
        self._max_stale = max(max_stale_s, ttl_s)
        self._max_size = max_size
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[KeyRecord | None]] = {}
        self._load_timeout = load_timeout_s
        self._generation = 0
        self._schedule = schedule
        self._timers: dict[str, TimerHandle] = {}
        self.store_failures = 0

    async def lookup(self, prefix: str) -> KeyRecord | None:
        entry = self._entries.get(prefix)
        now = self._clock()
        if entry is not None and now - entry.fetched < self._ttl:
            entry.used = now
            if now - entry.fetched >= self._ttl / 2 and prefix not in self._inflight:
                self._refresh_ahead(prefix)
            return entry.record
        try:
            return await self._refresh(prefix)
        except Exception as exc:
            self.store_failures += 1
            if (
                entry is not None
                and entry.record is not None
                and now - entry.fetched < self._max_stale
            ):
                return entry.record
            raise ServiceUnavailable(
                "Credentials cannot be verified right now; the request was refused. Retry shortly."
            ) from exc

    def _start_load(self, prefix: str) -> asyncio.Future[KeyRecord | None]:
        task = self._inflight.get(prefix)
        if task is None:
            task = asyncio.ensure_future(self._load(prefix, self._generation))
            self._inflight[prefix] = task
            task.add_done_callback(lambda done: self._loaded(prefix, done))
        return task

    def _refresh_ahead(self, prefix: str) -> asyncio.Future[KeyRecord | None]:
        def counted(done: asyncio.Future[KeyRecord | None]) -> None:
            if not done.cancelled() and done.exception() is not None:
                self.store_failures += 1

        task = self._start_load(prefix)
        task.add_done_callback(counted)
        return task

    def _keep_warm(self, prefix: str, delay_s: float) -> None:
        """Re-confirm `prefix` in the background once `delay_s` has passed (one timer a key)."""
        old = self._timers.pop(prefix, None)
        if old is not None:
            old.cancel()
        schedule = self._schedule
        if schedule is None:
            try:
                schedule = asyncio.get_running_loop().call_later
            except RuntimeError:
                return  # no loop (a synchronous caller): refresh-ahead on use still applies
        self._timers[prefix] = schedule(max(delay_s, 0.001), lambda: self._warm(prefix))

    def _warm(self, prefix: str) -> None:
        self._timers.pop(prefix, None)
        entry = self._entries.get(prefix)
        if entry is None or entry.record is None:
            return  # dropped (invalidated, evicted) or an unknown key: nothing to keep
        now = self._clock()
        if now - entry.used >= self._max_stale:
            return  # idle: let it expire; its next use loads it again
        due = entry.fetched + self._ttl / 2 - now
        if due > 0:
            self._keep_warm(prefix, due)
            return
        task = self._inflight.get(prefix) or self._refresh_ahead(prefix)

        def retry(done: asyncio.Future[KeyRecord | None]) -> None:
            # A store that failed: try again later while the entry may still serve.
            if (done.cancelled() or done.exception() is not None) and prefix in self._entries:
                self._keep_warm(prefix, self._ttl / 2)

        task.add_done_callback(retry)

    async def _refresh(self, prefix: str) -> KeyRecord | None:
        task = self._start_load(prefix)
        # Waiters give up after the timeout; the load itself (single flight) runs on.
        return await asyncio.wait_for(asyncio.shield(task), self._load_timeout)

    async def _load(self, prefix: str, generation: int) -> KeyRecord | None:
        record = await asyncio.to_thread(self._loader.load_key, prefix)
        if generation == self._generation:
            self._store(prefix, record)
        return record

    def _loaded(self, prefix: str, task: asyncio.Future[KeyRecord | None]) -> None:
        if self._inflight.get(prefix) is task:
            del self._inflight[prefix]
        if not task.cancelled():
            task.exception()  # mark retrieved: waiters re-raise it themselves

    def _store(self, prefix: str, record: KeyRecord | None) -> None:
        now = self._clock()
        previous = self._entries.get(prefix)
        self._entries[prefix] = _Entry(record, now, previous.used if previous else now)
        self._entries.move_to_end(prefix)
        while len(self._entries) > self._max_size:
            evicted, _ = self._entries.popitem(last=False)
            self._cancel_timer(evicted)
        if record is not None:
            self._keep_warm(prefix, self._ttl / 2)

    def _cancel_timer(self, prefix: str) -> None:
        timer = self._timers.pop(prefix, None)
        if timer is not None:
            timer.cancel()

    def invalidate_key(self, prefix: str) -> None:
        self._generation += 1
        self._entries.pop(prefix, None)
        self._cancel_timer(prefix)

    def invalidate_tenant(self, tenant_id: str) -> None:
        self._generation += 1
        for prefix, entry in list(self._entries.items()):
            if entry.record is not None and entry.record[1].id == tenant_id:
                del self._entries[prefix]
                self._cancel_timer(prefix)

    def invalidate_all(self) -> None:
        self._generation += 1
        self._entries.clear()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def __len__(self) -> int:
        return len(self._entries)
