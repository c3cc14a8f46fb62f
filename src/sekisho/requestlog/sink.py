"""Write request-log batches to the store (runs in a worker thread)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, update

from sekisho.requestlog.record import RequestRecord
from sekisho.store.db import Database
from sekisho.store.models import ApiKey, RequestLog


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
            session.execute(insert(RequestLog), [r.as_row() for r in batch])
            for key_id, record in last_used.items():
                session.execute(
                    update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=record.ts)
                )
