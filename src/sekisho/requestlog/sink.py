"""Write request-log batches to the store (runs in a worker thread)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, insert, update

from sekisho.requestlog.record import RequestRecord
from sekisho.store.db import Database
from sekisho.store.models import ApiKey, RequestLog

REQUEST_LOG: Table = RequestLog.__table__  # type: ignore[assignment]


class StoreSink:
    def __init__(self, db: Database) -> None:
        self._db = db

    def __call__(self, batch: Sequence[RequestRecord]) -> None:
        if not batch:
            return
        last_used: dict[str, RequestRecord] = {}
        for record in batch:
            if record.key_id:
                last_used[record.key_id] = record
        with self._db.begin() as session:
            # Core insert of the table: no ORM bookkeeping while holding the interpreter lock.
            session.execute(insert(REQUEST_LOG), [r.as_row() for r in batch])
            for key_id, record in last_used.items():
                session.execute(
                    update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=record.ts)
                )
