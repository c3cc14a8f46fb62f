"""The error rate of an incident's aliases before, during and after it (from the rollup).

Incidents are opened after the fact, so "during" starts at the **onset**: the
first bucket with errors in the window of the earliest spike alert on those
aliases (or at the opening when no alert fired). "before" is the period of
the same length (at most `before_s`, at least a minute) ending at the onset;
"after" is the most recent `after_s`, to confirm the rate normalized.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho.incidents.tables import Incident
from sekisho.observe.series import Totals, series, window_totals
from sekisho.observe.tables import ObserveAlert


def _merged(session: Session, aliases: list[str], start: datetime, end: datetime) -> Totals:
    total = Totals()
    for t in window_totals(session, "alias", aliases, start, end).values():
        total.cell.merge(t.cell)
    return total


def _period(t: Totals, start: datetime, end: datetime) -> dict[str, Any]:
    rate = t.error_rate
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "requests": t.requests,
        "errors": t.errors,
        "error_rate": round(rate, 4) if rate is not None else None,
    }


def onset(
    session: Session, incident: Incident, alert_window_s: float, lookback_s: float
) -> datetime:
    """When the impact began, as far as the alerts and the rollup tell."""
    opened = incident.opened_at
    fired = session.scalar(
        select(ObserveAlert.fired_at)
        .where(
            ObserveAlert.alias.in_(incident.aliases),
            ObserveAlert.fired_at >= opened - timedelta(seconds=lookback_s),
            ObserveAlert.fired_at <= opened,
        )
        .order_by(ObserveAlert.fired_at)
        .limit(1)
    )
    if fired is None:
        return opened
    start = fired - timedelta(seconds=alert_window_s)
    first = [
        ts
        for alias in incident.aliases
        for ts, t in series(session, "alias", alias, start, fired + timedelta(seconds=1))
        if t.errors
    ]
    return min([opened, *first]) if first else min(opened, fired)


def impact(
    session: Session,
    incident: Incident,
    now: datetime,
    *,
    before_s: float,
    after_s: float,
    alert_window_s: float,
) -> dict[str, Any]:
    """Before / during / after error rates of the incident's aliases."""
    end = incident.resolved_at or now
    began = onset(session, incident, alert_window_s, before_s)
    during_s = max((end - began).total_seconds(), 1.0)
    b_start = began - timedelta(seconds=min(before_s, max(during_s, 60.0)))
    a_start = max(end - timedelta(seconds=after_s), began)
    aliases = list(incident.aliases)
    periods = {
        "before": (b_start, began),
        "during": (began, end + timedelta(seconds=1)),
        "after": (a_start, end + timedelta(seconds=1)),
    }
    return {
        "aliases": aliases,
        "onset": began.isoformat(),
        **{
            name: _period(_merged(session, aliases, s, e), s, e) for name, (s, e) in periods.items()
        },
    }
