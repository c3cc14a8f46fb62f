"""Read ledger entries back as dicts, for asserting what a control-plane change recorded."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from sekisho.ledger.tables import LedgerEntryRow
from sekisho.store.db import Database


def ledger_entries(db: Database, action: str | None = None) -> list[dict[str, Any]]:
    with db.read() as session:
        rows = session.scalars(
            select(LedgerEntryRow).order_by(LedgerEntryRow.time, LedgerEntryRow.seq)
        ).all()
        bodies = [orjson.loads(r.body) | {"_ledger": r.ledger} for r in rows]
    return [b for b in bodies if action is None or b.get("action") == action]
