"""The rollup in the store (SQLite and PostgreSQL): deltas merge, series read it, a rebuild
from the raw log agrees with what the listener counted, and only one replica leads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from sekisho.observe.leader import SchedulerLock
from sekisho.observe.rollup import RollupAggregator
from sekisho.observe.rollup_store import rebuild, write_deltas
from sekisho.observe.series import series, series_document, window_totals
from sekisho.requestlog.record import RequestRecord
from sekisho.store.db import Database
from sekisho.store.models import RequestLog
from tests.support.databases import fresh_postgres_database
from tests.support.gateway import migrated

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _records() -> list[RequestRecord]:
    out = []
    for i in range(180):  # three minutes, one request a second; every 4th fails
        status, code = (502, "upstream_unavailable") if i % 4 == 0 else (200, None)
        out.append(
            RequestRecord(
                id=f"r{i}",
                ts=START + timedelta(seconds=i),
                tenant_id="t1",
                alias="chat",
                status=status,
                error_code=code,
                latency_ms=50.0 + i,
                ttfb_ms=20.0 if i % 2 else None,
                prompt_tokens=2,
                completion_tokens=3,
            )
        )
    return out


def test_deltas_merge_and_series_read_them(any_db: Database) -> None:
    agg = RollupAggregator(60, lambda: {"chat"})
    records = _records()
    for r in records[:100]:
        agg.add(r)
    write_deltas(any_db, "replica-a", agg.take())
    for r in records[100:]:
        agg.add(r)
    write_deltas(any_db, "replica-a", agg.take())
    other = RollupAggregator(60, lambda: {"chat"})
    other.add(records[0])
    write_deltas(any_db, "replica-b", other.take())  # a second replica's rows are summed
    with any_db.read() as session:
        points = series(session, "alias", "chat", START, START + timedelta(hours=1))
        totals = window_totals(
            session, "alias", ["chat", "none"], START, START + timedelta(minutes=2)
        )
    assert [t.requests for _, t in points] == [61, 60, 60]
    assert [ts for ts, _ in points] == [START + timedelta(minutes=m) for m in range(3)]
    assert totals["chat"].requests == 121 and totals["none"].requests == 0
    doc = series_document("alias", "chat", START, START + timedelta(hours=1), 60, points)
    assert doc["totals"]["502"] == 46 and doc["totals"]["codes"] == {"upstream_unavailable": 46}
    assert doc["totals"]["tokens"] == {"prompt": 362, "completion": 543}
    assert doc["totals"]["ttfb_ms"]["p50"] is not None
    assert 75 <= doc["totals"]["latency_ms"]["p50"] <= 150


def test_rebuild_from_the_raw_log_matches_the_listener(any_db: Database) -> None:
    records = _records()
    with any_db.begin() as session:
        session.execute(insert(RequestLog), [r.as_row() for r in records])
    live = RollupAggregator(60, lambda: {"chat"})
    for r in records:
        live.add(r)
    write_deltas(any_db, "replica-a", live.take())
    end = START + timedelta(minutes=3)
    with any_db.read() as session:
        before = series_document(
            "alias", "chat", START, end, 60, series(session, "alias", "chat", START, end)
        )
    assert rebuild(any_db, START, end, 60) > 0
    with any_db.read() as session:
        after = series_document(
            "alias", "chat", START, end, 60, series(session, "alias", "chat", START, end)
        )
    assert after == before  # replaced, not doubled


def test_only_one_replica_holds_the_scheduler_lock() -> None:
    with fresh_postgres_database() as url:
        db_a, db_b = migrated(url), Database(url)
        a, b = SchedulerLock(db_a), SchedulerLock(db_b)
        try:
            assert a.try_acquire() is True
            assert b.try_acquire() is False
            assert a.try_acquire() is True  # keeps it
            a.release()
            assert b.try_acquire() is True
            assert a.try_acquire() is False
        finally:
            a.release()
            b.release()
            db_a.dispose()
            db_b.dispose()
