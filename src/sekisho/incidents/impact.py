"""The error rate of an incident's aliases before, during and after it (from the rollup)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from sekisho.incidents.tables import Incident
from sekisho.observe.series import Totals, window_totals


def _merged(session: Session, aliases: list[str], start: datetime, end: datetime) -> Totals:
    total = Totals()
    for t in window_totals(session, "alias", aliases, start, end).values():
        total.cell.merge(t.cell)
    return total


def _period(t: Totals, start: datetime, end: datetime) -> dict[str, Any]:
    rate = t.error_rate
    return {"from": start.isoformat(), "to": end.isoformat(), "requests": t.requests,
            "errors": t.errors, "error_rate": round(rate, 4) if rate is not None else None}


def impact(session: Session, incident: Incident, now: datetime, *, before_s: float,
           after_s: float) -> dict[str, Any]:
    """before: up to `before_s` before opening; during: opening to now (or resolution);
    after: the last `after_s` (recent traffic, to confirm the rate normalized)."""
    opened = incident.opened_at
    end = incident.resolved_at or now
    during_s = max((end - opened).total_seconds(), 1.0)
    b_start = opened - timedelta(seconds=min(before_s, max(during_s, 60.0)))
    a_start = max(end - timedelta(seconds=after_s), opened)
    aliases = list(incident.aliases)
    periods = {
        "before": (b_start, opened),
        "during": (opened, end + timedelta(seconds=1)),
        "after": (a_start, end + timedelta(seconds=1)),
    }
    return {"aliases": aliases,
            **{name: _period(_merged(session, aliases, s, e), s, e)
               for name, (s, e) in periods.items()}}
