"""Daily partitions of the request log on PostgreSQL, and retention by dropping them.

The request log grows by every request; on PostgreSQL it is a table partitioned by day on
`ts` (migration 0007). Every replica runs `PartitionKeeper.run`: about once an hour it makes
sure the partitions for today and the next `AHEAD_DAYS` days exist and, when
`request_log.retention_days` is set, drops whole partitions older than that (instant, no
vacuum debt). One replica at a time does the work (a transaction advisory lock); a row for a
day without a partition lands in `request_log_default`, so an insert never fails for want
of one. SQLite keeps one plain table (one process, demo and small installs).
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Connection

from sekisho.store.db import Database

log = logging.getLogger(__name__)

AHEAD_DAYS = 3
LOCK_KEY = 0x5E15_0B5E_0002  # "sekisho request-log partitions"
_NAME = re.compile(r"^request_log_p(\d{8})$")


def partition_name(day: date) -> str:
    return f"request_log_p{day:%Y%m%d}"


def create_partition(conn: Connection, day: date) -> bool:
    """Create the partition of `day` if missing; False when it already existed."""
    name = partition_name(day)
    exists = conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar()
    if exists is not None:
        return False
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    conn.execute(
        text(
            f'CREATE TABLE "{name}" PARTITION OF request_log '
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
    )
    return True


def partitions(conn: Connection) -> list[date]:
    """The days that have a partition, oldest first."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'request_log'"
        )
    ).scalars()
    days = []
    for name in rows:
        m = _NAME.match(name)
        if m:
            days.append(datetime.strptime(m.group(1), "%Y%m%d").date())
    return sorted(days)


def maintain(db: Database, today: date, retention_days: int | None) -> dict[str, list[str]]:
    """Create the coming days' partitions, drop expired ones; returns what it did."""
    done: dict[str, list[str]] = {"created": [], "dropped": []}
    if not db.is_postgres:
        return done
    with db.engine.begin() as conn:
        if not conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}).scalar():
            return done  # another replica is at it
        for offset in range(AHEAD_DAYS + 1):
            day = today + timedelta(days=offset)
            try:
                with conn.begin_nested():
                    if create_partition(conn, day):
                        done["created"].append(partition_name(day))
            except Exception:
                # Rows for that day sit in the default partition: leave them there.
                log.warning("cannot create partition for %s", day, exc_info=True)
        if retention_days is not None:
            cutoff = today - timedelta(days=retention_days)
            for day in partitions(conn):
                if day < cutoff:
                    conn.execute(text(f'DROP TABLE "{partition_name(day)}"'))
                    done["dropped"].append(partition_name(day))
    if done["created"] or done["dropped"]:
        log.info("request-log partitions: %s", done)
    return done


class PartitionKeeper:
    def __init__(self, db: Database, retention_days: int | None, interval_s: float = 3600) -> None:
        self._db = db
        self._retention = retention_days
        self._interval = interval_s
        self.failures = 0

    async def run(self) -> None:
        while True:
            try:
                today = datetime.now(UTC).date()
                await asyncio.to_thread(maintain, self._db, today, self._retention)
            except Exception:
                self.failures += 1
                log.warning("request-log partition maintenance failed", exc_info=True)
            await asyncio.sleep(self._interval)
