"""Store reads behind the busiest console pages, each one query, none over the raw log but one.

Tiles, the dashboard's totals and its chart read the rollups (one row per
alias per bucket, whatever the traffic): one query each, for every alias at
once where there are several. A chart never has more than about CHART_POINTS
points: a wide window merges neighbouring buckets into coarser ones (7 days
of 1-minute buckets become 15-minute points), so the drill-down of one point
stays a narrow time range. The drill-down is the only read of the request log:
one alias, one such range, `ts` descending, LIMIT DRILL_LIMIT, which
PostgreSQL answers from the (alias, ts) index of the one or two daily
partitions the range touches.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sekisho.observe.probes import ProbeSummary, summaries
from sekisho.observe.series import series, series_document, window_totals
from sekisho.observe.tables import ObserveAlert
from sekisho.store.models import RequestLog

TILE_WINDOW = timedelta(minutes=5)
DRILL_LIMIT = 200
CHART_POINTS = 720
CHART_STEPS_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
ALERT_LIMIT = 200


def chart_step(bucket_s: int, span_s: float) -> int:
    """The point width of a chart over `span_s`: the rollup bucket, or the smallest
    coarser step (a multiple of it) that keeps the chart within CHART_POINTS (pure)."""
    need = span_s / CHART_POINTS
    if bucket_s >= need:
        return bucket_s
    for step in CHART_STEPS_S:
        if step >= need and step % bucket_s == 0:
            return step
    return bucket_s * -(-int(need) // bucket_s)


def alias_chart(
    session: Session, alias: str, start: datetime, end: datetime, bucket_s: int
) -> dict[str, Any]:
    """The series document of one alias over [start, end) at `chart_step` resolution."""
    step = chart_step(bucket_s, (end - start).total_seconds())
    points = series(session, "alias", alias, start, end, step if step != bucket_s else 0)
    return series_document("alias", alias, start, end, step, points)


def alias_totals(session: Session, alias: str, start: datetime, end: datetime) -> dict[str, Any]:
    return window_totals(session, "alias", [alias], start, end)[alias].to_dict()


def alias_alerts(
    session: Session, alias: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The alias's spike alerts that overlap [start, end), oldest first (chart markers)."""
    rows = session.scalars(
        select(ObserveAlert)
        .where(
            ObserveAlert.alias == alias,
            ObserveAlert.fired_at < end,
            or_(ObserveAlert.resolved_at.is_(None), ObserveAlert.resolved_at >= start),
        )
        .order_by(ObserveAlert.fired_at.desc())
        .limit(ALERT_LIMIT)
    ).all()
    return [
        {
            "alias": a.alias,
            "fired_at": a.fired_at.isoformat(),
            "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
            "peak_rate": a.peak_rate,
        }
        for a in reversed(rows)
    ]


def alias_probes(session: Session, aliases: list[str], since: datetime) -> dict[str, ProbeSummary]:
    return summaries(session, "alias", aliases, since)


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
