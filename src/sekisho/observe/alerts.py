"""Evaluate the spike rule for every alias and keep the alert table current.

Run by the replica holding the scheduler lock. Returns the alerts that
changed state so the caller can post them to the ops channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho.ids import new_id
from sekisho.observe.series import Totals, window_totals
from sekisho.observe.spike import RateSample, SpikeRule, decide
from sekisho.observe.tables import ObserveAlert
from sekisho.store.db import Database

RULE = "error_spike"


@dataclass(frozen=True, slots=True)
class AlertChange:
    alias: str
    state: str  # firing | resolved
    alert_id: str
    rate: float
    baseline_rate: float
    requests: int
    errors: int

    def message(self) -> str:
        if self.state == "firing":
            return (
                f":rotating_light: 5xx/429 spike on alias {self.alias}: "
                f"{self.rate:.1%} of {self.requests} requests failed "
                f"(baseline {self.baseline_rate:.1%}); alert {self.alert_id}. "
                f"Run `sekisho triage {self.alias}`."
            )
        return (
            f":white_check_mark: alias {self.alias} error rate normalized "
            f"({self.rate:.1%} of {self.requests}); alert {self.alert_id} resolved."
        )


def _sample(t: Totals) -> RateSample:
    return RateSample(t.requests, t.errors)


def evaluate(
    db: Database, rule: SpikeRule, aliases: Sequence[str], now: datetime | None = None
) -> list[AlertChange]:
    """One evaluation round over `aliases`; stores the result and returns the changes."""
    now = now or datetime.now(UTC)
    window_start = now - timedelta(seconds=rule.window_s)
    with db.read() as session:  # no write lock unless something changes
        window = window_totals(
            session, "alias", list(aliases), window_start, now + timedelta(seconds=1)
        )
        base = window_totals(
            session,
            "alias",
            list(aliases),
            window_start - timedelta(seconds=rule.baseline_s),
            window_start,
        )
        firing_ids = {a.alias: a.id for a in firing_alerts(session)}
    decisions = {
        alias: decide(rule, _sample(window[alias]), _sample(base[alias]), alias in firing_ids)
        for alias in aliases
    }
    if not firing_ids and all(d == "quiet" for d in decisions.values()):
        return []
    changes: list[AlertChange] = []
    with db.begin() as session:
        firing = {a.alias: a for a in firing_alerts(session)}
        for alias, decision in decisions.items():
            w, b = _sample(window[alias]), _sample(base[alias])
            current = firing.get(alias)
            if decision == "fire" and current is None:
                current = ObserveAlert(
                    id=new_id("alr", 6),
                    alias=alias,
                    rule=RULE,
                    state="firing",
                    fired_at=now,
                    last_evaluated_at=now,
                    rate=w.rate,
                    peak_rate=w.rate,
                    baseline_rate=b.rate,
                    details=_details(rule, w, b),
                )
                session.add(current)
            elif current is not None:
                current.last_evaluated_at = now
                current.rate = w.rate if w.requests else current.rate
                current.peak_rate = max(current.peak_rate, w.rate)
                if decision == "resolve":
                    current.state, current.resolved_at = "resolved", now
                    current.details = {**current.details, "resolved_with": _details(rule, w, b)}
                else:
                    continue
            else:
                continue
            changes.append(
                AlertChange(alias, current.state, current.id, w.rate, b.rate, w.requests, w.errors)
            )
    return changes


def _details(rule: SpikeRule, w: RateSample, b: RateSample) -> dict[str, Any]:
    return {
        "window_s": rule.window_s,
        "threshold": rule.threshold,
        "requests": w.requests,
        "errors": w.errors,
        "baseline_requests": b.requests,
        "baseline_errors": b.errors,
    }


def firing_alerts(session: Session) -> list[ObserveAlert]:
    return list(
        session.scalars(
            select(ObserveAlert)
            .where(ObserveAlert.state == "firing")
            .order_by(ObserveAlert.fired_at)
        ).all()
    )


def list_alerts(
    session: Session, *, include_resolved: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    """Alerts, newest first, as plain dicts (admin API and CLI)."""
    stmt = select(ObserveAlert).order_by(ObserveAlert.fired_at.desc()).limit(limit)
    if not include_resolved:
        stmt = stmt.where(ObserveAlert.state == "firing")
    out = []
    for a in session.scalars(stmt).all():
        details = dict(a.details or {})
        resolved_with = details.pop("resolved_with", None)
        out.append(
            {
                "id": a.id,
                "alias": a.alias,
                "rule": a.rule,
                "state": a.state,
                "fired_at": a.fired_at.isoformat(),
                "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
                "rate": round(a.rate, 4),
                "peak_rate": round(a.peak_rate, 4),
                "baseline_rate": round(a.baseline_rate, 4),
                "details": a.details,
                "at_firing": _figures(details),
                "at_resolution": _figures(resolved_with) if resolved_with else None,
            }
        )
    return out


def _figures(details: dict[str, Any]) -> dict[str, Any]:
    """The window's numbers an alert recorded (at firing or at resolution)."""

    def rate(errors: Any, requests: Any) -> float | None:
        return round(errors / requests, 4) if requests else None

    return {
        "window_s": details.get("window_s"),
        "requests": details.get("requests", 0),
        "errors": details.get("errors", 0),
        "rate": rate(details.get("errors", 0), details.get("requests", 0)),
        "baseline_rate": rate(
            details.get("baseline_errors", 0), details.get("baseline_requests", 0)
        ),
    }
