"""The request log on PostgreSQL: daily partitions, maintenance and retention."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text

from sekisho.requestlog.partitions import maintain, partition_name, partitions
from sekisho.store.db import Database
from sekisho.store.models import RequestLog
from tests.support.databases import fresh_postgres_database
from tests.support.gateway import migrated

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg() -> Iterator[Database]:
    with fresh_postgres_database() as url:
        db = migrated(url)
        yield db
        db.dispose()


def _row(rid: str, ts: datetime) -> dict[str, object]:
    return {
        "id": rid,
        "ts": ts,
        "source": "api",
        "stream": False,
        "status": 200,
        "attempts": [],
        "latency_ms": 1.0,
        "tenant_id": "ten_x",
    }


def _count(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text(f'SELECT count(*) FROM ONLY "{table}"')).scalar() or 0)


def test_the_request_log_is_partitioned_by_day(pg: Database) -> None:
    with pg.engine.connect() as conn:
        strategy = conn.execute(
            text(
                "SELECT partstrat FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                "WHERE c.relname = 'request_log'"
            )
        ).scalar()
        days = partitions(conn)
    assert strategy == "r"
    today = datetime.now(UTC).date()
    assert today in days and today + timedelta(days=3) in days


def test_rows_land_in_their_day_and_retention_drops_whole_days(pg: Database) -> None:
    today = datetime.now(UTC).date()
    old_day = today - timedelta(days=40)
    with pg.engine.begin() as conn:
        # An old day without a partition: the row lands in the default partition.
        conn.execute(
            insert(RequestLog.__table__),
            [_row("req_old", datetime(old_day.year, old_day.month, old_day.day, 12, tzinfo=UTC))],
        )
    assert _count(pg, "request_log_default") == 1
    with pg.begin() as session:
        session.execute(insert(RequestLog.__table__), [_row("req_now", datetime.now(UTC))])
    assert _count(pg, partition_name(today)) == 1
    # Maintenance a day later creates the next partition, drops nothing without retention.
    done = maintain(pg, today + timedelta(days=1), None)
    assert done["created"] == [partition_name(today + timedelta(days=4))]
    assert done["dropped"] == []
    # With a retention of 30 days, days older than that go, whole; today's row stays.
    with pg.engine.begin() as conn:
        conn.execute(
            text(
                f'CREATE TABLE "{partition_name(today - timedelta(days=35))}" PARTITION OF request_log '
                f"FOR VALUES FROM ('{today - timedelta(days=35)}') TO ('{today - timedelta(days=34)}')"
            )
        )
        conn.execute(
            insert(RequestLog.__table__),
            [
                _row(
                    "req_35",
                    datetime.combine(today - timedelta(days=35), datetime.min.time(), tzinfo=UTC)
                    + timedelta(hours=1),
                )
            ],
        )
    done = maintain(pg, today, 30)
    assert done["dropped"] == [partition_name(today - timedelta(days=35))]
    with pg.read() as s:
        ids = set(s.scalars(select(RequestLog.id)))
    assert ids == {"req_old", "req_now"}  # the default partition is never dropped


def test_maintenance_is_a_no_op_on_sqlite(tmp_path: object) -> None:
    db = migrated(f"sqlite:///{tmp_path}/x.db")
    assert maintain(db, date.today(), 1) == {"created": [], "dropped": []}
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(RequestLog)) == 0
    db.dispose()
