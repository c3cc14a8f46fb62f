"""The quota and metering parts of a running gateway, built from settings.

QuotaRuntime.service   admission on the chat path (ChatService.quotas)
QuotaRuntime.meter     request-log listener writing daily usage
QuotaRuntime.jobs()    background loops: override refresh, usage flush + budget seeding
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date

from sqlalchemy import select

from sekisho.clock import SYSTEM_CLOCK, Clock
from sekisho.notify.outbox import notify_people
from sekisho.quotas.overrides import OverrideCache, load_overrides
from sekisho.quotas.service import QuotaService
from sekisho.settings import Settings
from sekisho.store.db import Database
from sekisho.store.models import Tenant
from sekisho.usage.meter import UsageMeter, month_tokens

log = logging.getLogger(__name__)


class QuotaRuntime:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        replica_id: str,
        replicas: Callable[[], int] = lambda: 1,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        q = settings.quotas
        self.clock = clock
        self.settings = settings
        self.db = db
        self.overrides = OverrideCache()
        self.service = QuotaService.from_url(
            q.limits(),
            settings.redis_url,
            overrides=self.overrides.get,
            replicas=replicas,
            default_completion_tokens=q.default_completion_tokens,
            lease_s=q.stream_lease_s,
            redis_retry_s=q.redis_retry_s,
            redis_timeout_s=q.redis_timeout_s,
            on_budget=self._budget_crossed,
        )
        self.meter = UsageMeter(
            db, replica_id, flush_s=settings.observe.rollup_flush_s, after_flush=self._seed_months
        )
        self.refresh_failures = 0

    def load(self) -> None:
        """Read the overrides once, before the first request is served."""
        with self.db.read() as session:
            self.overrides.replace(load_overrides(session))

    async def refresh(self) -> None:
        await asyncio.to_thread(self.load)

    async def run_refresh(self) -> None:
        while True:
            await asyncio.sleep(self.settings.quotas.refresh_s)
            try:
                await self.refresh()
            except Exception:
                self.refresh_failures += 1
                log.warning("quota override refresh failed; keeping the last ones", exc_info=True)

    def jobs(self) -> list[Callable[[], Awaitable[None]]]:
        return [self.run_refresh, self.meter.run]

    async def stop(self) -> None:
        await self.meter.flush()
        await self.service.close()

    def _budgeted_tenants(self) -> list[str]:
        if self.settings.quotas.monthly_tokens is not None:
            with self.db.read() as session:
                return list(session.scalars(select(Tenant.id)))
        return self.overrides.tenants_with("monthly_tokens")

    async def _seed_months(self) -> None:
        """Counters lost with a Redis restart come back from the metered usage."""
        tenants = await asyncio.to_thread(self._budgeted_tenants)
        if not tenants:
            return
        today = self.clock.now().date()
        first = date(today.year, today.month, 1)

        def read() -> dict[str, int]:
            with self.db.read() as session:
                return month_tokens(session, tenants, first)

        for tenant, used in (await asyncio.to_thread(read)).items():
            await self.service.seed_monthly(tenant, used)

    def _budget_crossed(self, tenant_id: str, percent: int, used: int, limit: int) -> None:
        month = self.clock.now().strftime("%Y-%m")

        def write() -> None:
            with self.db.begin() as session:
                tenant = session.get(Tenant, tenant_id)
                if tenant is None:
                    return
                notify_people(
                    session,
                    self.settings,
                    event="tenant.budget",
                    subject=f"{tenant.name} has used {percent}% of its monthly token budget",
                    payload={
                        "tenant_id": tenant_id,
                        "percent": percent,
                        "used": used,
                        "limit": limit,
                        "month": month,
                    },
                    emails=[tenant.account_owner_email],
                    tenant_id=tenant_id,
                    dedupe_key=f"budget:{tenant_id}:{month}:{percent}",
                )

        try:
            asyncio.get_running_loop().create_task(asyncio.to_thread(write))
        except RuntimeError:
            write()
