"""The composition root: every long-lived part of a gateway, built once from settings.

`build_gateway(settings, db=, upstream=, clock=)` assembles the whole runtime
(database handle, key cache, request-log writer, pooled upstream client, live
routing state, quotas, observability, guardrails and lifecycle) from settings
and the injected I/O; nothing starts until `Gateway.running()` is entered (the
ASGI lifespan enters it). Leaving it stops the parts in a fixed order: the
background loops, requests still in flight, the request-log writer, quotas,
the last rollup deltas, then the upstream client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sekisho.actor import Actor
from sekisho.chat.core import ChatService, RetryAfterBounds, RoutingState
from sekisho.chat.egress import egress_policy
from sekisho.chat.inflight import InflightRequests
from sekisho.chat.upstream import UpstreamClient
from sekisho.clock import SYSTEM_CLOCK, Clock, WallClock
from sekisho.control import overrides as override_service
from sekisho.control.matrix_versions import record_matrix_load
from sekisho.control.replicas import heartbeat, live_replicas
from sekisho.embeddings.service import EmbeddingService
from sekisho.guardrails.runtime import GuardrailsRuntime, build_guardrails
from sekisho.ledger.service import LedgerService, run_periodic_checkpoints
from sekisho.ledger.signing import attach_from_settings
from sekisho.lifecycle.runtime import LifecycleRuntime, build_lifecycle
from sekisho.matrix import Matrix, MatrixCheck
from sekisho.matrix.validate import Problem
from sekisho.observe.runtime import Observability
from sekisho.quotas.runtime import QuotaRuntime
from sekisho.requestlog.partitions import PartitionKeeper
from sekisho.requestlog.sink import StoreSink
from sekisho.requestlog.writer import RequestLogWriter
from sekisho.routing.circuit import CircuitBook
from sekisho.routing.overrides import Override
from sekisho.settings import Settings
from sekisho.store.db import Database
from sekisho.tenancy.authcache import KeyCache
from sekisho.tenancy.loader import StoreCredentialLoader

log = logging.getLogger(__name__)

REFRESH_INTERVAL_S = 1.0


class MatrixReloadRefused(Exception):
    """The new matrix is invalid; the running one stays. `check` holds every problem."""

    def __init__(self, check: MatrixCheck) -> None:
        super().__init__("; ".join(str(p) for p in check.errors))
        self.check = check


Job = Callable[[], Awaitable[None]]


class LiveRouting:
    """The routing state every reader sees now; refreshes and reloads swap it whole."""

    __slots__ = ("state",)

    def __init__(self, state: RoutingState) -> None:
        self.state = state

    def get(self) -> RoutingState:
        return self.state


class ReplicaCount:
    """Replicas with a fresh heartbeat (quota shares while Redis is down); at least 1."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 1

    def get(self) -> int:
        return self.count


def _replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(eq=False)
class Gateway:
    settings: Settings
    db: Database
    upstream: UpstreamClient
    writer: RequestLogWriter
    keys: KeyCache
    chat: ChatService
    embeddings: EmbeddingService
    live: LiveRouting
    quotas: QuotaRuntime
    observability: Observability
    guardrails: GuardrailsRuntime
    lifecycle: LifecycleRuntime
    clock: Clock
    replica_id: str
    replicas: ReplicaCount
    started_at: datetime
    background: list[Job] = field(default_factory=list)
    refresh_interval_s: float = REFRESH_INTERVAL_S
    refresh_failures: int = 0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def routing(self) -> RoutingState:
        return self.live.state

    @routing.setter
    def routing(self, state: RoutingState) -> None:
        self.live.state = state

    @property
    def live_replicas(self) -> int:
        return self.replicas.count

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Start every part; on leaving (or a failed start) stop what started, in order."""
        async with contextlib.AsyncExitStack() as stack:
            # Callbacks run last-pushed first: the order below is the shutdown order reversed.
            stack.push_async_callback(self.upstream.close)
            # The last rollup deltas, after the last records.
            stack.push_async_callback(self.observability.flush)
            await asyncio.to_thread(self.quotas.load)  # overrides in force before any request
            # Settlements and the last usage, after the last records.
            stack.push_async_callback(self.quotas.stop)
            self.writer.start()
            stack.push_async_callback(self.writer.stop)
            # Requests still in flight end now (503 / error event) and hand over their rows.
            stack.push_async_callback(self.chat.inflight.drain, self.settings.chat.shutdown_drain_s)
            await asyncio.to_thread(self._record_matrix, self.routing.matrix, "start-up")
            await self.refresh_routing()
            stack.push_async_callback(self._stop_tasks)
            loop = asyncio.get_running_loop()
            self._tasks.append(loop.create_task(self._refresh_loop(), name="routing-refresh"))
            for job in self.background:
                self._tasks.append(loop.create_task(_run(job), name=_job_name(job)))
            yield

    async def _stop_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _record_matrix(self, matrix: Matrix, source: str, actor: Actor | None = None) -> None:
        with self.db.begin() as session:
            record_matrix_load(session, matrix, actor or Actor.system("gateway"), source)

    def _load_overrides(self) -> list[Override]:
        """One write transaction a second: expiries, this replica's heartbeat, active overrides."""
        now = self.clock.now()
        views = self.routing.circuits.snapshot(now.timestamp())
        with self.db.begin() as session:
            override_service.record_expiries(session, now)
            heartbeat(
                session, self.replica_id, self.started_at, self.routing.matrix.content_hash, views
            )
            self.replicas.count = max(1, len(live_replicas(session)))
            return override_service.load_active(session, now)

    async def refresh_routing(self) -> None:
        """Re-read the active overrides (every replica, about once a second)."""
        overrides = await asyncio.to_thread(self._load_overrides)
        current = self.routing
        self.routing = RoutingState(
            matrix=current.matrix, circuits=current.circuits, overrides=overrides
        )

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval_s)
            try:
                await self.refresh_routing()
            except Exception:
                self.refresh_failures += 1
                log.warning("routing refresh failed; keeping the last overrides", exc_info=True)

    async def reload_matrix(self, actor: Actor | None = None) -> Matrix:
        """Re-read and validate the matrix; swap it in atomically or raise MatrixReloadRefused."""
        check = await asyncio.to_thread(self.settings.reload_matrix)
        if not check.ok or check.matrix is None:
            raise MatrixReloadRefused(check)
        matrix = check.matrix
        try:
            egress = egress_policy(matrix, self.settings.secrets)  # reads the TLS files
        except ValueError as exc:
            check.problems.append(Problem("providers", str(exc)))
            raise MatrixReloadRefused(check) from exc
        await asyncio.to_thread(self._record_matrix, matrix, "reload", actor)
        current = self.routing
        self.routing = RoutingState(
            matrix=matrix, circuits=current.circuits, overrides=current.overrides
        )
        self.settings.apply_matrix(matrix)
        self.upstream.set_egress(egress)
        self.keys.invalidate_all()
        log.info("provider matrix reloaded: sha256 %s", matrix.content_hash)
        return matrix


async def _run(job: Job) -> None:
    await job()


def _job_name(job: Job) -> str:
    name = getattr(job, "__qualname__", None) or getattr(job, "__name__", None)
    return name if isinstance(name, str) else "job"


def build_gateway(
    settings: Settings,
    *,
    db: Database | None = None,
    upstream: UpstreamClient | None = None,
    clock: Clock | None = None,
    wall_clock: Callable[[], float] | None = None,
) -> Gateway:
    """Assemble the whole runtime from settings and the injected I/O; nothing starts yet.

    `db` and `upstream` default to the ones the settings name; `clock` to the
    system's (`wall_clock` alone: a clock whose wall time is that function).
    """
    if clock is None:
        clock = WallClock(wall_clock) if wall_clock is not None else SYSTEM_CLOCK
    if wall_clock is None:  # the hot path reads time.time itself when nothing is steered
        wall_clock = time.time if clock is SYSTEM_CLOCK else clock.time
    db = db or Database(settings.database_url)
    attach_from_settings(db, settings.ledger)  # every ledger entry appended here is signed
    upstream = upstream or UpstreamClient(egress=egress_policy(settings.matrix, settings.secrets))
    replica_id = _replica_id()
    replicas = ReplicaCount()
    live = LiveRouting(
        RoutingState(matrix=settings.matrix, circuits=CircuitBook(settings.circuit_settings()))
    )
    writer = RequestLogWriter(
        StoreSink(db),
        batch_size=settings.request_log.batch_size,
        flush_interval_s=settings.request_log.flush_interval_s,
        queue_max=settings.request_log.queue_max,
    )
    keys = KeyCache(
        StoreCredentialLoader(db),
        ttl_s=settings.auth.cache_ttl_s,
        max_stale_s=settings.auth.max_stale_s,
        max_size=settings.auth.cache_size,
        load_timeout_s=settings.auth.store_timeout_s,
    )
    chat = ChatService(
        routing=live.get,
        upstream=upstream,
        submit_log=writer.submit,
        provider_key=settings.provider_api_key,
        inflight=InflightRequests(),
        request_deadline_s=settings.limits.request_deadline_s,
        retry_after=RetryAfterBounds(
            settings.chat.retry_after_default_s,
            settings.chat.retry_after_min_s,
            settings.chat.retry_after_max_s,
        ),
        wall_clock=wall_clock,
    )
    # Quota admission on the chat path; settlement and usage metering from the request log.
    quotas = QuotaRuntime(settings, db, replica_id=replica_id, replicas=replicas.get, clock=clock)
    chat.quotas = quotas.service
    # Rollups, metrics, probes and alert rules.
    observability = Observability(
        settings,
        db,
        replica_id=replica_id,
        routing=live.get,
        chat=chat,
        upstream=upstream,
        clock=clock,
    )
    # Guardrails in the chat path, their event writer and policy refresh.
    guardrails = build_guardrails(settings, db)
    chat.guard = guardrails.guard
    observability.metrics.exposition_parts.append(guardrails.exposition)
    # Embeddings: the chat path's admission (inflight, quotas, guardrails) and route loop.
    embeddings = EmbeddingService(
        routing=live.get,
        upstream=upstream,
        submit_log=writer.submit,
        provider_key=settings.provider_api_key,
        inflight=chat.inflight,
        quotas=chat.quotas,
        guard=chat.guard,
        request_deadline_s=settings.limits.request_deadline_s,
        retry_after=chat.retry_after,
        wall_clock=wall_clock,
    )
    # The invalidation bus, sessions, sign-in and the outbox.
    lifecycle = build_lifecycle(settings, db, keys, chat.inflight)
    writer.listeners.extend(
        [observability.on_record, quotas.service.on_record, quotas.meter.on_record]
    )
    background: list[Job] = [
        observability.run_rollup_flush,
        observability.run_scheduler,
        *quotas.jobs(),
        _ledger_checkpoints(db, settings),
        guardrails.run,
        *lifecycle.jobs,
    ]
    if db.is_postgres:  # daily request-log partitions and their retention
        background.append(PartitionKeeper(db, settings.request_log.retention_days).run)
    return Gateway(
        settings=settings,
        db=db,
        upstream=upstream,
        writer=writer,
        keys=keys,
        chat=chat,
        embeddings=embeddings,
        live=live,
        quotas=quotas,
        observability=observability,
        guardrails=guardrails,
        lifecycle=lifecycle,
        clock=clock,
        replica_id=replica_id,
        replicas=replicas,
        started_at=clock.now(),
        background=background,
    )


def _ledger_checkpoints(db: Database, settings: Settings) -> Job:
    """Sign ledger checkpoints every `ledger.checkpoint_interval_s` (and publish them)."""

    async def run_checkpoints() -> None:
        service = LedgerService.from_settings(db, settings.ledger)
        await run_periodic_checkpoints(
            service, settings.ledger.checkpoint_interval_s, asyncio.Event()
        )

    return run_checkpoints
