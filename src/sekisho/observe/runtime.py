"""The observability parts of one running gateway, and their background loops.

- the request-log listener (`on_record`): feeds the in-memory rollup and the
  Prometheus counters, no I/O;
- `run_rollup_flush`: every few seconds, writes the rollup deltas (and once
  more at shutdown, so a clean stop loses nothing);
- `run_scheduler`: on the one replica holding the scheduler lock, probes
  every provider and alias and evaluates the spike rule, posting alert
  changes to the ops channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection

from sekisho.chat.core import ChatService, RoutingState
from sekisho.chat.upstream import UpstreamClient
from sekisho.clock import SYSTEM_CLOCK, Clock
from sekisho.incidents.opschannel import OpsChannel
from sekisho.observe import alerts, probes
from sekisho.observe.leader import SchedulerLock
from sekisho.observe.metrics import LiveMetrics
from sekisho.observe.rollup import RollupAggregator
from sekisho.observe.rollup_store import write_deltas
from sekisho.observe.spike import SpikeRule
from sekisho.requestlog.record import RequestRecord
from sekisho.settings import ObserveSettings, Settings
from sekisho.store.db import Database

log = logging.getLogger(__name__)


def spike_rule(s: ObserveSettings) -> SpikeRule:
    return SpikeRule(
        window_s=s.alert_window_s,
        baseline_s=s.alert_baseline_s,
        threshold=s.alert_threshold,
        baseline_factor=s.alert_baseline_factor,
        min_requests=s.alert_min_requests,
        resolve_ratio=s.alert_resolve_ratio,
    )


class Observability:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        replica_id: str,
        routing: Callable[[], RoutingState],
        chat: ChatService,
        upstream: UpstreamClient,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.db = db
        self.replica_id = replica_id
        self._routing = routing
        self._chat = chat
        self._upstream = upstream
        known: Callable[[], Collection[str]] = lambda: routing().matrix.aliases  # noqa: E731
        self.rollup = RollupAggregator(settings.observe.rollup_bucket_s, known)
        self.metrics = LiveMetrics(known)
        self.lock = SchedulerLock(db)
        self.ops = OpsChannel(
            settings.incidents.ops_webhook_url, settings.incidents.ops_webhook_timeout_s
        )
        self.flush_failures = 0
        self.scheduler_failures = 0
        self.last_probe_at: float | None = None
        self._next_probe = self._next_alerts = float("-inf")  # both due at the first round

    def on_record(self, record: RequestRecord) -> None:
        """The request-log listener: in-memory counting only."""
        self.rollup.add(record)
        self.metrics.add(record)

    # -- rollup ---------------------------------------------------------------

    async def flush(self) -> None:
        """Write the rollup deltas accumulated so far; on failure keep them for the next try."""
        cells = self.rollup.take()
        if not cells:
            return
        try:
            await asyncio.to_thread(write_deltas, self.db, self.replica_id, cells)
        except Exception:
            self.flush_failures += 1
            self.rollup.give_back(cells)
            log.warning(
                "rollup flush failed; %d cells kept for the next try", len(cells), exc_info=True
            )

    async def run_rollup_flush(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.settings.observe.rollup_flush_s)
                await self.flush()
        finally:
            with contextlib.suppress(Exception):
                await self.flush()

    # -- scheduler (one replica) -------------------------------------------------

    async def run_scheduler(self) -> None:
        s = self.settings.observe
        tick = min(s.probe_interval_s, s.alert_interval_s)
        try:
            while True:
                await self.scheduler_round()
                await asyncio.sleep(tick)
        finally:
            await asyncio.to_thread(self.lock.release)

    async def scheduler_round(self) -> None:
        """One scheduler tick: probes and alert rules that are due by the clock, when leading."""
        s = self.settings.observe
        try:
            leading = await asyncio.to_thread(self.lock.try_acquire)
            now = self.clock.monotonic()
            if leading and s.probes_enabled and now >= self._next_probe:
                self._next_probe = now + s.probe_interval_s
                await self.probe_round()
            if leading and now >= self._next_alerts:
                self._next_alerts = now + s.alert_interval_s
                await self.flush()  # judge our own freshest traffic too
                await self.evaluate_alerts()
        except Exception:
            self.scheduler_failures += 1
            log.warning("observe scheduler round failed", exc_info=True)

    async def probe_round(self) -> list[probes.ProbeOutcome]:
        """Probe every provider directly and every alias end to end; store the results."""
        matrix = self._routing().matrix
        timeout = self.settings.observe.probe_timeout_s
        jobs = [
            probes.probe_provider(
                self._upstream, matrix, pid, self.settings.provider_api_key(pid), timeout
            )
            for pid in sorted(matrix.providers)
        ]
        chat_aliases = sorted(n for n, a in matrix.aliases.items() if a.kind == "chat")
        jobs += [probes.probe_alias(self._chat, alias, timeout) for alias in chat_aliases]
        results = [r for r in await asyncio.gather(*jobs) if r is not None]
        now = self.clock.now()

        def store() -> None:
            with self.db.begin() as session:
                probes.store_results(session, results, now, self.settings.observe.probe_retention_s)

        await asyncio.to_thread(store)
        self.last_probe_at = self.clock.time()
        return results

    async def evaluate_alerts(self) -> list[alerts.AlertChange]:
        aliases = sorted(self._routing().matrix.aliases)
        changes = await asyncio.to_thread(
            alerts.evaluate, self.db, spike_rule(self.settings.observe), aliases, self.clock.now()
        )
        for change in changes:
            log.warning("alert %s: %s", change.state, change.message())
            await self.ops.post_async(change.message())
        return changes
