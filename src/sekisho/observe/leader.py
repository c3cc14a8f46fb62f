"""Only one replica runs the probes and the alert rules: a PostgreSQL advisory lock.

The lock is session-level, held on one dedicated connection for as long as
this replica leads. If the process dies or the connection drops, PostgreSQL
releases it and another replica takes over at its next try. On SQLite (one
process by design) the single replica always leads.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import text

from sekisho.store.db import Database

log = logging.getLogger(__name__)

# A fixed 64-bit key: "sekisho observe scheduler".
LOCK_KEY = 0x5E15_0B5E_0001


class SchedulerLock:
    """`try_acquire()` each tick: True while this replica holds the lock."""

    def __init__(self, db: Database, key: int = LOCK_KEY) -> None:
        self._db = db
        self._key = key
        self._conn: Any = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._db.is_sqlite

    def try_acquire(self) -> bool:
        """Blocking (run it in a thread): keep, check or try to take the lock."""
        if self._db.is_sqlite:
            return True
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                self._conn.commit()
                return True
            except Exception:  # the connection (and with it the lock) is gone
                log.warning("lost the observe scheduler lock", exc_info=True)
                self._drop()
        conn = self._db.engine.connect()
        try:
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar()
            )
            conn.commit()
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
            log.info("this replica now runs probes and alert rules")
            return True
        conn.close()
        return False

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._conn.commit()
        except Exception:
            log.debug("advisory unlock failed; closing the connection releases it", exc_info=True)
        self._drop()

    def _drop(self) -> None:
        try:
            self._conn.invalidate()  # never return a lock-holding connection to the pool
        except Exception:
            log.debug("closing the lock connection failed", exc_info=True)
        self._conn = None
