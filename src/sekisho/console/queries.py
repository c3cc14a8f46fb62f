"""Store reads the admin API has no route for: tile totals of every alias, request drill-down.

Tiles read the rollups (one query for every alias); the drill-down reads the
request log by (alias, time window) with a bounded limit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho.observe.series import window_totals
from sekisho.store.models import RequestLog

TILE_WINDOW = timedelta(minutes=5)
DRILL_LIMIT = 200


def alias_tiles(session: Session, aliases: list[str], now: datetime) -> dict[str, dict[str, Any]]:
    """Requests/min, 5xx+429 rate and p95 latency of each alias over the last five minutes."""
    minutes = TILE_WINDOW.total_seconds() / 60
    totals = window_totals(session, "alias", aliases, now - TILE_WINDOW, now + timedelta(minutes=1))
    out: dict[str, dict[str, Any]] = {}
    for alias, t in totals.items():
        doc = t.to_dict()
        out[alias] = {
            "rpm": round(t.requests / minutes, 1),
            "requests": t.requests,
            "errors": t.errors,
            "error_rate": t.error_rate,
            "p95_ms": doc["latency_ms"]["p95"],
        }
    return out


def _row(r: RequestLog) -> dict[str, Any]:
    return {
        "id": r.id,
        "ts": r.ts,
        "tenant_id": r.tenant_id,
        "key_id": r.key_id,
        "alias": r.alias,
        "stream": r.stream,
        "status": r.status,
        "error_code": r.error_code,
        "provider": r.provider,
        "upstream_model": r.upstream_model,
        "attempts": r.attempts or [],
        "plan": r.plan,
        "ttfb_ms": r.ttfb_ms,
        "latency_ms": r.latency_ms,
        "total_tokens": r.total_tokens,
        "source": r.source,
    }


def requests_in(
    session: Session, alias: str, start: datetime, end: datetime, *, errors_only: bool = False
) -> list[dict[str, Any]]:
    """The requests of one alias in [start, end), newest first, at most DRILL_LIMIT."""
    stmt = select(RequestLog).where(
        RequestLog.alias == alias, RequestLog.ts >= start, RequestLog.ts < end
    )
    if errors_only:
        stmt = stmt.where((RequestLog.status >= 500) | (RequestLog.status == 429))
    rows = session.scalars(stmt.order_by(RequestLog.ts.desc()).limit(DRILL_LIMIT)).all()
    return [_row(r) for r in rows]


def request_detail(session: Session, request_id: str) -> dict[str, Any] | None:
    row = session.get(RequestLog, request_id)
    return _row(row) if row is not None else None
