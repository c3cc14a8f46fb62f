"""UsageMeter: counts request-log records in memory, flushes per-replica deltas in batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from sekisho.requestlog.record import RequestRecord
from sekisho.store.db import Database
from sekisho.usage.tables import UsageDaily

log = logging.getLogger(__name__)

CellKey = tuple[date, str, str, str]  # day, tenant, key ("" for sessions), alias


@dataclass(slots=True)
class Cell:
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: Cell) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens


def cell_of(record: RequestRecord) -> tuple[CellKey, Cell] | None:
    """The usage one request-log record adds; None for records of no tenant."""
    if not record.tenant_id:
        return None
    key = (record.ts.date(), record.tenant_id, record.key_id or "", record.alias or "")
    return key, Cell(
        requests=1,
        errors=1 if record.status >= 400 else 0,
        prompt_tokens=record.prompt_tokens or 0,
        completion_tokens=record.completion_tokens or 0,
    )


def write_usage(db: Database, replica: str, cells: dict[CellKey, Cell]) -> int:
    """Merge this replica's deltas into its rows; returns the rows touched."""
    if not cells:
        return 0
    with db.begin() as session:
        existing = _existing(session, replica, list(cells))
        for ident, cell in cells.items():
            row = existing.get(ident)
            if row is None:
                row = UsageDaily(
                    day=ident[0],
                    tenant_id=ident[1],
                    key_id=ident[2],
                    alias=ident[3],
                    replica=replica,
                    requests=0,
                    errors=0,
                    prompt_tokens=0,
                    completion_tokens=0,
                )
                session.add(row)
            row.requests += cell.requests
            row.errors += cell.errors
            row.prompt_tokens += cell.prompt_tokens
            row.completion_tokens += cell.completion_tokens
    return len(cells)


def _existing(session: Session, replica: str, idents: list[CellKey]) -> dict[CellKey, UsageDaily]:
    found: dict[CellKey, UsageDaily] = {}
    for i in range(0, len(idents), 200):
        chunk = idents[i : i + 200]
        rows = session.scalars(
            select(UsageDaily).where(
                UsageDaily.replica == replica,
                tuple_(
                    UsageDaily.day, UsageDaily.tenant_id, UsageDaily.key_id, UsageDaily.alias
                ).in_(chunk),
            )
        ).all()
        for row in rows:
            found[(row.day, row.tenant_id, row.key_id, row.alias)] = row
    return found


def month_tokens(session: Session, tenant_ids: list[str], first_day: date) -> dict[str, int]:
    """Tokens used by each tenant since `first_day` (all replicas)."""
    if not tenant_ids:
        return {}
    rows = session.execute(
        select(
            UsageDaily.tenant_id,
            func.sum(UsageDaily.prompt_tokens + UsageDaily.completion_tokens),
        )
        .where(UsageDaily.tenant_id.in_(tenant_ids), UsageDaily.day >= first_day)
        .group_by(UsageDaily.tenant_id)
    ).all()
    return {tenant: int(total or 0) for tenant, total in rows}


class UsageMeter:
    """The request-log listener that meters usage; `run` flushes it every `flush_s`."""

    def __init__(
        self,
        db: Database,
        replica: str,
        *,
        flush_s: float = 5.0,
        after_flush: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._db = db
        self._replica = replica
        self._flush_s = flush_s
        self._after_flush = after_flush
        self._cells: dict[CellKey, Cell] = {}
        self.flush_failures = 0
        self.flushed_rows = 0

    def on_record(self, record: RequestRecord) -> None:
        found = cell_of(record)
        if found is None:
            return
        key, cell = found
        current = self._cells.get(key)
        if current is None:
            self._cells[key] = cell
        else:
            current.add(cell)

    async def flush(self) -> None:
        cells, self._cells = self._cells, {}
        if cells:
            try:
                self.flushed_rows += await asyncio.to_thread(
                    write_usage, self._db, self._replica, cells
                )
            except Exception:
                self.flush_failures += 1
                for key, cell in cells.items():  # keep them for the next try
                    self._cells.setdefault(key, Cell()).add(cell)
                log.warning("usage flush failed; %d cells kept", len(cells), exc_info=True)
                return
        if self._after_flush is not None:
            try:
                await self._after_flush()
            except Exception:
                log.warning("after-flush hook of the usage meter failed", exc_info=True)

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self._flush_s)
                await self.flush()
        finally:
            with contextlib.suppress(Exception):
                await self.flush()
