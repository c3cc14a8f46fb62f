"""Every replica's side of the bus: push listeners, the version poll, and what an event does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg
import redis.asyncio as aioredis
from psycopg import sql
from sqlalchemy import select

from sekisho.bus.events import Invalidation, decode
from sekisho.chat.inflight import InflightRequests
from sekisho.settings import Settings
from sekisho.store.db import Database
from sekisho.store.models import Tenant
from sekisho.tenancy.authcache import KeyCache

log = logging.getLogger(__name__)

Loop = Callable[[], Awaitable[None]]
_MAX_BACKOFF_S = 5.0


class Invalidator:
    """Applies an invalidation on this replica: drop cached keys, end streams if not active."""

    def __init__(self, keys: KeyCache, inflight: InflightRequests) -> None:
        self._keys = keys
        self._inflight = inflight
        self.applied = 0
        self.streams_ended = 0

    def apply(self, event: Invalidation) -> None:
        self._keys.invalidate_tenant(event.tenant_id)
        if event.state != "active":
            self.streams_ended += self._inflight.end_tenant(event.tenant_id, "tenant_suspended")
        else:
            self._inflight.reopen(event.tenant_id)
        self.applied += 1


class VersionPoller:
    """Reads every tenant's (version, state) each interval and applies what changed."""

    def __init__(self, db: Database, invalidator: Invalidator, interval_s: float) -> None:
        self._db = db
        self._invalidator = invalidator
        self.interval_s = interval_s
        self._known: dict[str, tuple[int, str]] | None = None
        self.failures = 0

    def _read(self) -> dict[str, tuple[int, str]]:
        with self._db.read() as session:
            rows = session.execute(select(Tenant.id, Tenant.version, Tenant.state)).all()
        return {tid: (version, state) for tid, version, state in rows}

    async def poll_once(self) -> int:
        """One poll; returns how many tenants changed since the last one."""
        current = await asyncio.to_thread(self._read)
        changed = 0
        if self._known is not None:
            for tenant_id, (version, state) in current.items():
                if self._known.get(tenant_id) != (version, state):
                    self._invalidator.apply(Invalidation(tenant_id, version, state))
                    changed += 1
        self._known = current
        return changed

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:
                self.failures += 1
                log.warning("tenant version poll failed", exc_info=True)
            await asyncio.sleep(self.interval_s)


class _Listener:
    """Listen for invalidations over one connection; reconnect with backoff when it drops."""

    what = "invalidation"

    def __init__(self, channel: str, invalidator: Invalidator) -> None:
        self._channel = channel
        self._invalidator = invalidator
        self.connected = asyncio.Event()
        self.failures = 0

    def _apply(self, payload: str | bytes) -> None:
        event = decode(payload)
        if event is not None:
            self._invalidator.apply(event)

    async def _listen(self) -> None:
        """Connect, subscribe, set `connected`, apply messages until the connection ends."""
        raise NotImplementedError

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failures += 1
                log.warning("%s listener lost; reconnecting", self.what, exc_info=True)
            finally:
                if self.connected.is_set():  # it was up: start backing off afresh
                    backoff = 0.1
                self.connected.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_S)


class RedisListener(_Listener):
    """SUBSCRIBE to the channel on Redis."""

    what = "Redis invalidation"

    def __init__(self, url: str, channel: str, invalidator: Invalidator) -> None:
        super().__init__(channel, invalidator)
        self._url = url

    async def _listen(self) -> None:
        client = aioredis.Redis.from_url(self._url, socket_connect_timeout=2)
        try:
            pubsub = client.pubsub()
            await pubsub.subscribe(self._channel)
            self.connected.set()
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    self._apply(message["data"])
        finally:
            await client.aclose()


class PostgresListener(_Listener):
    """LISTEN on the channel over a dedicated PostgreSQL connection."""

    what = "PostgreSQL invalidation"

    def __init__(self, db: Database, channel: str, invalidator: Invalidator) -> None:
        super().__init__(channel, invalidator)
        self._conninfo = db.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=5
        )
        async with conn:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            self.connected.set()
            async for notice in conn.notifies():
                self._apply(notice.payload)


def backup_listener(
    settings: Settings, db: Database, invalidator: Invalidator
) -> PostgresListener | None:
    """With Redis *and* PostgreSQL, also LISTEN on PostgreSQL.

    Every change already NOTIFYs in its own transaction; listening there too keeps
    suspensions and revocations arriving in milliseconds while Redis is down (an
    invalidation applied twice changes nothing).
    """
    if settings.redis_url and db.is_postgres:
        return PostgresListener(db, settings.bus.channel, invalidator)
    return None


def listeners_for(
    settings: Settings,
    db: Database,
    invalidator: Invalidator,
) -> tuple[RedisListener | PostgresListener | None, VersionPoller]:
    """The push listener this deployment supports (Redis, else PostgreSQL) and the poll."""
    push: RedisListener | PostgresListener | None = None
    if settings.redis_url:
        push = RedisListener(settings.redis_url, settings.bus.channel, invalidator)
    elif db.is_postgres:
        push = PostgresListener(db, settings.bus.channel, invalidator)
    interval = settings.bus.poll_interval_s or (2.0 if push is not None else 0.5)
    return push, VersionPoller(db, invalidator, interval)
