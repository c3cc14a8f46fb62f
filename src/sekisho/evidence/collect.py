"""Reading a window of evidence out of the store into a bundle."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Table, inspect, select
from sqlalchemy.orm import Session

import sekisho.guardrails.tables  # noqa: F401  (declares guardrail_events on Base)
from sekisho.evidence.bundle import (
    Bundle,
    EvidenceFilters,
    EvidenceWindow,
    format_time,
    jsonl,
    make_bundle,
)
from sekisho.store.base import Base
from sekisho.store.db import Database

# File name -> table. A table that does not exist yet contributes an empty file,
# so the set of files (and a bundle's shape) never depends on the deployment.
SOURCES = (("request_log.jsonl", "request_log"), ("guardrail_events.jsonl", "guardrail_events"))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def _rows(
    session: Session, table: Table, filters: EvidenceFilters, window: EvidenceWindow
) -> list[Mapping[str, Any]]:
    columns = table.c
    if "ts" not in columns:
        return []
    query = select(table).where(columns.ts >= window.start, columns.ts < window.end)
    for name, value in (("tenant_id", filters.tenant_id), ("alias", filters.alias)):
        if value is not None:
            if name not in columns:
                return []
            query = query.where(columns[name] == value)
    order = [columns.ts, *([columns.id] if "id" in columns else [])]
    result = session.execute(query.order_by(*order)).mappings().all()
    return [{key: _plain(value) for key, value in row.items()} for row in result]


def collect_bundle(
    session: Session,
    filters: EvidenceFilters,
    window: EvidenceWindow,
    meta: dict[str, Any] | None = None,
) -> Bundle:
    """The bundle of this window, read in the caller's session (e.g. inside a suspension)."""
    present = set(inspect(session.get_bind()).get_table_names())
    files: dict[str, bytes] = {}
    for filename, table_name in SOURCES:
        table = Base.metadata.tables.get(table_name)
        rows = (
            _rows(session, table, filters, window)
            if (table is not None and table_name in present)
            else []
        )
        files[filename] = jsonl(rows)
    return make_bundle(files, filters, window, meta)


def build_bundle(
    db: Database,
    filters: EvidenceFilters,
    window: EvidenceWindow,
    meta: dict[str, Any] | None = None,
) -> Bundle:
    """The bundle of request log and guardrail events matching `filters` in `window`."""
    with db.read() as session:
        return collect_bundle(session, filters, window, meta)
