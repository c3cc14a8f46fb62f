"""QuotaService: admit a request before its upstream call, settle it when its row is written.

    admit(principal, messages, max_tokens, stream, request_id)
        -> Reservation | None          (None: the tenant has no limits; nothing to settle)
        raises RateLimited / InsufficientQuota with Retry-After and x-ratelimit-* headers
    settle(reservation, actual_tokens)  (fire-and-forget; never on the response path)

Shared counters live in Redis when `redis_url` is set. If Redis stops answering, the service
degrades to in-process counters holding this replica's *share* of each limit (the limit
divided by the number of live replicas, rounded up) and tries Redis again after
`quotas.redis_retry_s`: never an open door, never an auth failure. Every switch is counted.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from redis.exceptions import RedisError

from sekisho.errors import InsufficientQuota, RateLimited, SekishoError
from sekisho.quotas.counters import Admission, Counters, LocalCounters, RedisCounters
from sekisho.quotas.estimate import reserve_tokens
from sekisho.quotas.limits import QuotaLimits, overlay
from sekisho.quotas.plan import (
    LeaseCheck,
    QuotaPlan,
    WindowCheck,
    plan_quota,
    refusal_message,
    retry_after_s,
)
from sekisho.requestlog.record import RequestRecord

log = logging.getLogger(__name__)

_HEADER_OF = {"rpm": "requests", "tpm": "tokens"}
_TOKEN_WINDOWS = ("tpm", "key_tpm", "monthly_tokens")


@dataclass(slots=True)
class Reservation:
    """What one admitted request holds until it is settled."""

    tenant_id: str
    request_id: str
    tokens: int
    token_keys: tuple[str, ...]
    leases: dict[str, str]
    backend: str  # redis | local
    headers: dict[str, str]
    monthly: WindowCheck | None = None
    settled: bool = False


@dataclass
class QuotaStats:
    admitted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    degraded_switches: int = 0
    settle_failures: int = 0
    budget_alerts: int = 0


BudgetAlert = Callable[[str, int, int, int], None]  # tenant, percent, used, limit


class QuotaService:
    def __init__(
        self,
        defaults: QuotaLimits,
        *,
        shared: Counters | None,
        overrides: Callable[[str], Mapping[str, int | None] | None] = lambda _t: None,
        replicas: Callable[[], int] = lambda: 1,
        default_completion_tokens: int = 1024,
        lease_s: float = 180.0,
        redis_retry_s: float = 1.0,
        prefix: str = "sekisho:q:",
        clock: Callable[[], float] = time.time,
        on_budget: BudgetAlert | None = None,
    ) -> None:
        self.defaults = defaults
        self._shared = shared
        self._local = LocalCounters(clock=clock)
        self._overrides = overrides
        self._replicas = replicas
        self._default_completion = default_completion_tokens
        self._lease_s = lease_s
        self._retry_s = redis_retry_s
        self._prefix = prefix
        self._clock = clock
        self._degraded_until = 0.0
        self._on_budget = on_budget
        self._tasks: set[asyncio.Task[None]] = set()
        self._alerted: set[tuple[str, int]] = set()
        self._open: dict[str, Reservation] = {}  # request id -> reservation, until its row
        self.stats = QuotaStats()

    @classmethod
    def from_url(
        cls,
        defaults: QuotaLimits,
        redis_url: str | None,
        *,
        redis_timeout_s: float = 1.0,
        **kw: Any,
    ) -> QuotaService:
        shared = RedisCounters(redis_url, timeout_s=redis_timeout_s) if redis_url else None
        return cls(defaults, shared=shared, **kw)

    @property
    def degraded(self) -> bool:
        return self._shared is not None and self._clock() < self._degraded_until

    def limits_for(self, tenant_id: str) -> QuotaLimits:
        return overlay(self.defaults, dict(self._overrides(tenant_id) or {}))

    async def admit(
        self,
        *,
        tenant_id: str,
        key_id: str | None,
        messages: Iterable[Mapping[str, Any]],
        max_tokens: int | None,
        stream: bool,
        request_id: str,
        tokens: int | None = None,
    ) -> Reservation | None:
        """Check and take every counter at once; `tokens` replaces the chat estimate."""
        limits = self.limits_for(tenant_id)
        if limits.unlimited:
            return None
        if tokens is None:
            tokens = reserve_tokens(messages, max_tokens, self._default_completion)
        now = self._clock()
        plan = plan_quota(
            limits,
            prefix=self._prefix,
            tenant_id=tenant_id,
            key_id=key_id,
            request_id=request_id,
            tokens=tokens,
            stream=stream,
            now=now,
            lease_s=self._lease_s,
        )
        if plan.empty:
            return None
        admission, backend, used = await self._admit(plan, now)
        if not admission.ok:
            raise self._refusal(used, admission)
        self.stats.admitted += 1
        monthly = next((w for w in used.windows if w.name == "monthly_tokens"), None)
        return Reservation(
            tenant_id=tenant_id,
            request_id=request_id,
            tokens=tokens,
            token_keys=tuple(w.key for w in used.windows if w.name in _TOKEN_WINDOWS),
            leases={lease.key: lease.member for lease in used.leases},
            backend=backend,
            headers=_headers(used, admission),
            monthly=monthly,
        )

    async def admit_request(
        self, tenant_id: str, key_id: str | None, body: Mapping[str, Any], request_id: str
    ) -> dict[str, str] | None:
        """Admit one chat request (body as parsed); held until its request-log row is written.

        Returns the x-ratelimit-* headers for the answer (None when the tenant has no limits).
        """
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        reservation = await self.admit(
            tenant_id=tenant_id,
            key_id=key_id,
            messages=body.get("messages") or (),
            max_tokens=max_tokens if isinstance(max_tokens, int) else None,
            stream=bool(body.get("stream")),
            request_id=request_id,
        )
        if reservation is None:
            return None
        self._open[request_id] = reservation
        return reservation.headers

    async def admit_tokens(
        self, tenant_id: str, key_id: str | None, tokens: int, request_id: str
    ) -> dict[str, str] | None:
        """Admit a request whose token cost is known up front (embeddings: input only)."""
        reservation = await self.admit(
            tenant_id=tenant_id,
            key_id=key_id,
            messages=(),
            max_tokens=None,
            stream=False,
            request_id=request_id,
            tokens=tokens,
        )
        if reservation is None:
            return None
        self._open[request_id] = reservation
        return reservation.headers

    def on_record(self, record: RequestRecord) -> None:
        """The request-log listener: a request's row is written once, when it is over."""
        reservation = self._open.pop(record.id, None)
        if reservation is not None:
            self.settle(reservation, record.total_tokens)

    @property
    def open_reservations(self) -> int:
        return len(self._open)

    async def _admit(self, plan: QuotaPlan, now: float) -> tuple[Admission, str, QuotaPlan]:
        if self._shared is not None and now >= self._degraded_until:
            try:
                return await self._shared.admit(plan, now), "redis", plan
            except (RedisError, OSError, TimeoutError) as exc:
                if now >= self._degraded_until:  # concurrent failures switch (and log) once
                    self.stats.degraded_switches += 1
                    log.warning("quota counters unreachable (%s); using this replica's share", exc)
                self._degraded_until = max(self._degraded_until, self._clock() + self._retry_s)
        # In-process counters see one replica's traffic: hold this replica's share.
        plan = _share(plan, max(1, self._replicas()))
        return await self._local.admit(plan, now), "local", plan

    def _refusal(self, plan: QuotaPlan, admission: Admission) -> SekishoError:
        index = admission.refused or 0
        check: WindowCheck | LeaseCheck
        if index < len(plan.windows):
            check = plan.windows[index]
            cost, reset = check.cost, check.reset_s
        else:
            check = plan.leases[index - len(plan.windows)]
            cost, reset = 1, 1.0
        self.stats.refused[check.name] = self.stats.refused.get(check.name, 0) + 1
        message = refusal_message(check.name, check.limit, cost, reset)
        retry = retry_after_s(check.name, check.limit, cost, reset)
        headers = {}
        header = _HEADER_OF.get(check.name)
        if header:
            headers = {
                f"x-ratelimit-limit-{header}": str(check.limit),
                f"x-ratelimit-remaining-{header}": str(max(0, check.limit - admission.current)),
                f"x-ratelimit-reset-{header}": f"{math.ceil(reset)}s",
            }
        err_cls = InsufficientQuota if check.name == "monthly_tokens" else RateLimited
        err = err_cls(message, retry_after=retry if check.name != "monthly_tokens" else None)
        err.extra_headers = headers
        return err

    def settle(self, reservation: Reservation | None, actual_tokens: int | None) -> None:
        """Reconcile the reserved tokens with the real usage and end the stream's lease."""
        if reservation is None or reservation.settled:
            return
        reservation.settled = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (shutdown): leases expire and windows roll over by themselves
        task = loop.create_task(self._settle(reservation, actual_tokens or 0))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, reservation: Reservation, actual: int) -> None:
        delta = actual - reservation.tokens
        counters: Counters = self._local
        if reservation.backend == "redis" and self._shared is not None:
            counters = self._shared
        try:
            monthly_key = reservation.monthly.key if reservation.monthly else None
            # The month's counter is read back even unchanged: budget alerts need its value.
            moved = await counters.adjust(
                {k: delta for k in reservation.token_keys if delta or k == monthly_key}
            )
            await counters.release(reservation.leases)
        except (RedisError, OSError, TimeoutError):
            self.stats.settle_failures += 1
            return
        monthly = reservation.monthly
        if monthly is not None and self._on_budget is not None:
            used = moved.get(monthly.key)
            if used is None:
                return  # the month's counter expired meanwhile: nothing to judge
            for percent in (80, 100):
                mark = (monthly.key, percent)
                # The counter holds used plus in-flight reservations: an alert may come a little
                # early, never late. Each (month, threshold) alerts once per replica; the outbox
                # de-duplicates across replicas.
                if used >= monthly.limit * percent / 100 and mark not in self._alerted:
                    self._alerted.add(mark)
                    self.stats.budget_alerts += 1
                    self._on_budget(reservation.tenant_id, percent, used, monthly.limit)

    async def seed_monthly(self, tenant_id: str, used: int) -> None:
        """Restore a month's counter lost with a Redis restart (or a replica restart).

        Only a missing counter is set: a live one already holds reservations in flight.
        """
        limits = self.limits_for(tenant_id)
        if limits.monthly_tokens is None:
            return
        now = self._clock()
        plan = plan_quota(
            QuotaLimits(monthly_tokens=limits.monthly_tokens),
            prefix=self._prefix,
            tenant_id=tenant_id,
            key_id=None,
            request_id="seed",
            tokens=0,
            stream=False,
            now=now,
            lease_s=0,
        )
        window = plan.windows[0]
        counters: Counters = self._local
        if self._shared is not None and not self.degraded:
            counters = self._shared
        try:
            await counters.seed(window.key, used, window.ttl_s)
        except (RedisError, OSError, TimeoutError):
            self.stats.settle_failures += 1

    async def drain(self) -> None:
        """Wait for pending settlements (clean shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        if self._shared is not None:
            await self._shared.close()


def _share(plan: QuotaPlan, replicas: int) -> QuotaPlan:
    """This replica's share of every limit, for while the shared counters are unreachable."""
    if replicas <= 1:
        return plan
    return QuotaPlan(
        tuple(replace(w, limit=math.ceil(w.limit / replicas)) for w in plan.windows),
        tuple(replace(lease, limit=math.ceil(lease.limit / replicas)) for lease in plan.leases),
    )


def _headers(plan: QuotaPlan, admission: Admission) -> dict[str, str]:
    """OpenAI-style x-ratelimit-* headers for the tenant's request and token windows."""
    out: dict[str, str] = {}
    for w, value in zip(plan.windows, admission.values, strict=False):
        header = _HEADER_OF.get(w.name)
        if header:
            out[f"x-ratelimit-limit-{header}"] = str(w.limit)
            out[f"x-ratelimit-remaining-{header}"] = str(max(0, w.limit - value))
            out[f"x-ratelimit-reset-{header}"] = f"{math.ceil(w.reset_s)}s"
    return out
