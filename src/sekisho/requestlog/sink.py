"""Write request-log batches to the store (runs in a worker thread).

Every row is cleaned first (`requestlog.clean`). A batch goes in one
transaction; `write_rows` is the writer's way to isolate a row the store still
refuses, and `dead_letter` keeps such rows aside with the error (table
`request_log_dead_letter`), so one bad row never costs the others (Rule 13).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import orjson
from sqlalchemy import Table, insert, update

from sekisho.requestlog.clean import ColumnBounds, bounded_text, clean_row
from sekisho.requestlog.dead_letter import RequestLogDeadLetter
from sekisho.requestlog.record import RequestRecord
from sekisho.store.db import Database
from sekisho.store.models import ApiKey, RequestLog

REQUEST_LOG: Table = RequestLog.__table__  # type: ignore[assignment]
DEAD_LETTER: Table = RequestLogDeadLetter.__table__  # type: ignore[assignment]
_BOUNDS = ColumnBounds(REQUEST_LOG)
_MAX_ERROR = 2000


def storable_row(record: RequestRecord) -> dict[str, object]:
    """The record as a row the store accepts value by value."""
    return clean_row(record.as_row(), _BOUNDS)


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
            session.execute(insert(REQUEST_LOG), [storable_row(r) for r in batch])
            for key_id, record in last_used.items():
                session.execute(
                    update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=record.ts)
                )

    def dead_letter(self, rejected: Sequence[tuple[RequestRecord, str]]) -> None:
        """Keep rows the store refused, serialized, with the store's error."""
        now = datetime.now(UTC)
        rows = []
        for record, error in rejected:
            serialized = orjson.dumps(record.as_row(), default=str).decode()
            rows.append(
                {
                    "failed_at": now,
                    "request_id": bounded_text(record.id, 64),
                    "tenant_id": bounded_text(record.tenant_id, 40) if record.tenant_id else None,
                    "row": serialized,
                    "error": bounded_text(error, _MAX_ERROR),
                }
            )
        with self._db.begin() as session:
            session.execute(insert(DEAD_LETTER), rows)
