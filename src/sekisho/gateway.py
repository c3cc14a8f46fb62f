"""The running gateway: every long-lived part, built from settings in one place.

`Gateway` owns the database handle, the key cache, the request-log writer,
the pooled upstream client and the live routing state. The app factory wraps
it in ASGI; the BFF and admin routes reach the same objects through it.
Background loops (override refresh and expiry) start with `start()` and stop
with `stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sekisho.actor import Actor
from sekisho.chat.core import ChatService, RetryAfterBounds, RoutingState
from sekisho.chat.egress import egress_policy
from sekisho.chat.inflight import InflightRequests
from sekisho.chat.upstream import UpstreamClient
from sekisho.control import overrides as override_service
from sekisho.control.matrix_versions import record_matrix_load
from sekisho.control.replicas import heartbeat, live_replicas
from sekisho.matrix import Matrix, MatrixCheck
from sekisho.matrix.validate import Problem
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


@dataclass
class Gateway:
    settings: Settings
    db: Database
    upstream: UpstreamClient
    writer: RequestLogWriter
    keys: KeyCache
    chat: ChatService
    routing: RoutingState
    refresh_interval_s: float = REFRESH_INTERVAL_S
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    refresh_failures: int = 0
    # sekisho.lifecycle.runtime.LifecycleRuntime: bus, sessions, notifications (set by the app).
    lifecycle: Any = None
    replica_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
    )
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Rollups, metrics, probes and alerts (sekisho.observe.runtime.Observability).
    observability: Any = None
    # Quotas and usage metering (sekisho.quotas.runtime.QuotaRuntime).
    quotas: QuotaRuntime | None = None
    live_replicas: int = 1  # replicas with a fresh heartbeat (quota shares while Redis is down)

    async def start(self) -> None:
        if self.quotas is not None:
            await asyncio.to_thread(self.quotas.load)  # overrides in force before any request
        self.writer.start()
        await asyncio.to_thread(self._record_matrix, self.routing.matrix, "start-up")
        await self.refresh_routing()
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._refresh_loop(), name="routing-refresh"))
        for job in self.background:
            self._tasks.append(loop.create_task(job(), name=getattr(job, "__name__", "job")))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        # Requests still in flight end now (503 / error event) and hand over their rows.
        await self.chat.inflight.drain(self.settings.chat.shutdown_drain_s)
        await self.writer.stop()
        if self.quotas is not None:
            await self.quotas.stop()  # settlements and the last usage, after the last records
        if self.observability is not None:
            await self.observability.flush()  # the last rollup deltas, after the last records
        await self.upstream.close()

    def _record_matrix(self, matrix: Matrix, source: str, actor: Actor | None = None) -> None:
        with self.db.begin() as session:
            record_matrix_load(session, matrix, actor or Actor.system("gateway"), source)

    def _load_overrides(self) -> list[Override]:
        """One write transaction a second: expiries, this replica's heartbeat, active overrides."""
        views = self.routing.circuits.snapshot(time.time())
        with self.db.begin() as session:
            override_service.record_expiries(session)
            heartbeat(
                session, self.replica_id, self.started_at, self.routing.matrix.content_hash, views
            )
            self.live_replicas = max(1, len(live_replicas(session)))
            return override_service.load_active(session, datetime.now(UTC))

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


def build_gateway(
    settings: Settings,
    *,
    db: Database | None = None,
    upstream: UpstreamClient | None = None,
    wall_clock: Callable[[], float] | None = None,
) -> Gateway:
    """Assemble a gateway; nothing starts until `start()` (the ASGI lifespan calls it)."""
    db = db or Database(settings.database_url)
    _attach_ledger_signer(db, settings)
    upstream = upstream or UpstreamClient(egress=egress_policy(settings.matrix, settings.secrets))
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
    holder: list[Gateway] = []
    chat = ChatService(
        routing=lambda: holder[0].routing,
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
        wall_clock=wall_clock or time.time,
    )
    gateway = Gateway(
        settings=settings,
        db=db,
        upstream=upstream,
        writer=writer,
        keys=keys,
        chat=chat,
        routing=RoutingState(
            matrix=settings.matrix, circuits=CircuitBook(settings.circuit_settings())
        ),
    )
    holder.append(gateway)
    _attach_observability(gateway)
    _attach_quotas(gateway)
    _attach_ledger_checkpoints(gateway)
    _attach_guardrails(gateway)
    if db.is_postgres:  # daily request-log partitions and their retention
        keeper = PartitionKeeper(db, settings.request_log.retention_days)
        gateway.background.append(keeper.run)
    return gateway


def _attach_guardrails(gateway: Gateway) -> None:
    """Guardrails in the chat path, their event writer and policy refresh (sekisho.guardrails)."""
    from sekisho.guardrails.runtime import attach

    attach(gateway)


def _attach_quotas(gateway: Gateway) -> None:
    """Quota admission on the chat path; settlement and usage metering from the request log."""
    runtime = QuotaRuntime(
        gateway.settings,
        gateway.db,
        replica_id=gateway.replica_id,
        replicas=lambda: gateway.live_replicas,
    )
    gateway.quotas = runtime
    gateway.chat.quotas = runtime.service
    gateway.writer.listeners.extend([runtime.service.on_record, runtime.meter.on_record])
    gateway.background.extend(runtime.jobs())


def _attach_observability(gateway: Gateway) -> None:
    """Request-log listener, rollup flush, probes and alert rules (sekisho.observe)."""
    from sekisho.observe.runtime import Observability

    obs = Observability(
        gateway.settings,
        gateway.db,
        replica_id=gateway.replica_id,
        routing=lambda: gateway.routing,
        chat=gateway.chat,
        upstream=gateway.upstream,
    )
    gateway.observability = obs
    gateway.writer.listeners.append(obs.on_record)
    gateway.background.extend([obs.run_rollup_flush, obs.run_scheduler])


def _attach_ledger_signer(db: Database, settings: Settings) -> None:
    """Every ledger entry this gateway appends is signed with the ledger key (issue 10.8)."""
    from sekisho.ledger.signing import attach_from_settings

    attach_from_settings(db, settings.ledger)


def _attach_ledger_checkpoints(gateway: Gateway) -> None:
    """Sign ledger checkpoints every `ledger.checkpoint_interval_s` (and publish them)."""
    from sekisho.ledger.service import LedgerService, run_periodic_checkpoints

    async def run_checkpoints() -> None:
        service = LedgerService.from_settings(gateway.db, gateway.settings.ledger)
        await run_periodic_checkpoints(
            service, gateway.settings.ledger.checkpoint_interval_s, asyncio.Event()
        )

    gateway.background.append(run_checkpoints)
