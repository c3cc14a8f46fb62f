"""The observe scheduler runs probes and alert rules when the gateway's clock says they are
due, and stamps them with that clock: a test moves the clock instead of waiting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from sekisho.gateway import build_gateway
from sekisho.observe.rollup import Cell, bucket_start
from sekisho.observe.rollup_store import write_deltas
from sekisho.observe.tables import ProbeResult
from sekisho.simulator import SimulatorServer
from tests.support.clock import ManualClock
from tests.support.databases import sqlite_url
from tests.support.gateway import gateway_settings, migrated, signed_by_gateway_key

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # far from the real time: only the clock counts


def test_probes_and_alerts_follow_the_injected_clock(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path)
    settings = gateway_settings(
        simulator.url,
        tmp_path,
        url,
        observe={
            "probes_enabled": True,
            "probe_interval_s": 60,
            "alert_interval_s": 30,
            "alert_window_s": 60,
            "alert_min_requests": 10,
        },
    )
    db = signed_by_gateway_key(migrated(url), settings)
    clock = ManualClock(T0)
    gateway = build_gateway(settings, db=db, clock=clock)
    obs = gateway.observability
    alias = sorted(a for a, spec in settings.matrix.aliases.items() if spec.kind == "chat")[0]

    def probe_times() -> list[datetime]:
        with db.read() as s:
            stamps = s.scalars(select(ProbeResult.ts).distinct().order_by(ProbeResult.ts))
            return [t.replace(tzinfo=UTC) if t.tzinfo is None else t for t in stamps]

    def traffic(ok: int, errors: int) -> None:
        cell = Cell()
        cell.count_status(200, None, ok)
        cell.count_status(502, "upstream_unavailable", errors)
        write_deltas(db, "r1", {(bucket_start(clock.now(), 10), "alias", alias): cell})

    async def scenario() -> list[str]:
        try:
            await obs.scheduler_round()  # both due at the first round
            assert probe_times() == [T0] and obs.last_probe_at == T0.timestamp()
            await obs.scheduler_round()  # no time has passed: nothing is due again
            assert probe_times() == [T0]

            # Half the errors in the last minute, by the clock: the next alert round fires.
            clock.advance(30)
            traffic(ok=10, errors=10)
            fired = await obs.evaluate_alerts()
            assert [c.state for c in fired] == ["firing"]
            assert probe_times() == [T0]  # probes are due every 60 s, not yet

            clock.advance(30)
            await obs.scheduler_round()
            assert probe_times() == [T0, clock.now()]
            # Two minutes on, the last minute's traffic was served: the alert round resolves it.
            clock.advance(120)
            traffic(ok=30, errors=0)
            return [c.state for c in await obs.evaluate_alerts()]
        finally:
            await gateway.upstream.close()

    assert asyncio.run(scenario()) == ["resolved"]
    assert obs.scheduler_failures == 0
    db.dispose()
