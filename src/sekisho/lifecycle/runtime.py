"""What each replica runs for the lifecycle: the invalidation bus, sessions, the outbox worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sekisho.bus import Announcer, Invalidation
from sekisho.bus.subscribe import (
    Invalidator,
    PostgresListener,
    RedisListener,
    VersionPoller,
    backup_listener,
    listeners_for,
)
from sekisho.chat.inflight import InflightRequests
from sekisho.identity.resolver import SessionAuth
from sekisho.identity.signin import SignIn
from sekisho.identity.throttle import FailureCounter, MemoryCounter, RedisCounter, SigninThrottle
from sekisho.lifecycle.overdue import OverdueTracker
from sekisho.notify import NotificationWorker
from sekisho.settings import Settings
from sekisho.store.db import Database
from sekisho.tenancy.authcache import KeyCache


@dataclass
class LifecycleRuntime:
    invalidator: Invalidator
    push: RedisListener | PostgresListener | None
    poller: VersionPoller
    announcer: Announcer
    notifier: NotificationWorker
    overdue: OverdueTracker
    sessions: SessionAuth
    signin: SignIn
    jobs: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def announce(self, event: Invalidation) -> None:
        """Apply a change committed by this replica here at once, then tell the others."""
        self.invalidator.apply(event)
        await asyncio.to_thread(self.announcer.publish, [event])


def build_lifecycle(
    settings: Settings, db: Database, keys: KeyCache, inflight: InflightRequests
) -> LifecycleRuntime:
    """The invalidation bus, sessions, sign-in and outbox; `jobs` are its loops."""
    invalidator = Invalidator(keys, inflight)
    push, poller = listeners_for(settings, db, invalidator)
    counter: FailureCounter = (
        RedisCounter(settings.redis_url, settings.identity.signin_window_s)
        if settings.redis_url
        else MemoryCounter(settings.identity.signin_window_s)
    )
    runtime = LifecycleRuntime(
        invalidator=invalidator,
        push=push,
        poller=poller,
        announcer=Announcer(settings.redis_url, settings.bus.channel),
        notifier=NotificationWorker(db, settings),
        overdue=OverdueTracker(db, settings),
        sessions=SessionAuth(db, settings.identity),
        signin=SignIn(
            db, settings.identity, SigninThrottle(counter, settings.identity.signin_max_failures)
        ),
    )
    if push is not None:
        runtime.jobs.append(push.run)
    backup = backup_listener(settings, db, invalidator)
    if backup is not None:  # Redis down: suspensions still arrive over PostgreSQL
        runtime.jobs.append(backup.run)
    runtime.jobs.extend([poller.run, runtime.notifier.run, runtime.overdue.run])
    return runtime
