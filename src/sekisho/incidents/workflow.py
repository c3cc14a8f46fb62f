"""Incident actions as the CLI and the admin API run them: change + ledger in one
transaction, then a post to the ops channel (best effort, after the commit)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from sekisho.actor import Actor
from sekisho.control.errors import ControlPlaneError
from sekisho.incidents import evidence as incident_evidence
from sekisho.incidents import service
from sekisho.incidents.impact import impact as compute_impact
from sekisho.incidents.opschannel import OpsChannel
from sekisho.incidents.tables import Incident
from sekisho.matrix import Matrix
from sekisho.settings import Settings
from sekisho.store.db import Database


@dataclass
class Outcome:
    """What an action did, for printing or returning as JSON."""

    incident_id: str
    document: dict[str, Any]
    posted: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def _ops(settings: Settings) -> OpsChannel:
    return OpsChannel(settings.incidents.ops_webhook_url, settings.incidents.ops_webhook_timeout_s)


def _who(actor: Actor) -> str:
    return actor.email or actor.id


def open_incident(
    db: Database,
    settings: Settings,
    matrix: Matrix,
    actor: Actor,
    *,
    title: str,
    severity: str,
    aliases: list[str],
    eta: datetime | None,
    note: str | None,
) -> Outcome:
    with db.begin() as session:
        incident = service.open_incident(
            session,
            matrix,
            title=title,
            severity=severity,
            aliases=aliases,
            actor=actor,
            eta=eta,
            note=note,
        )
        doc = service.incident_document(session, incident)
    eta_text = f" ETA {eta.isoformat(timespec='minutes')}." if eta else ""
    posted = _ops(settings).post(
        f":rotating_light: {doc['severity']} incident {doc['id']} opened by {_who(actor)}: "
        f"{doc['title']} — aliases {', '.join(doc['aliases'])}.{eta_text}"
        + (f" Note: {note}" if note else "")
    )
    return Outcome(doc["id"], doc, posted)


def add_note(
    db: Database,
    settings: Settings,
    actor: Actor,
    incident_id: str,
    text: str,
    severity: str | None = None,
) -> Outcome:
    with db.begin() as session:
        service.add_note(session, incident_id, text, actor, severity)
        doc = service.incident_document(session, service.get(session, incident_id))
    posted = _ops(settings).post(f"[{doc['severity']} {incident_id}] note by {_who(actor)}: {text}")
    return Outcome(incident_id, doc, posted)


def post_update(
    db: Database,
    settings: Settings,
    matrix: Matrix,
    actor: Actor,
    incident_id: str,
    text: str,
    eta: datetime | None = None,
) -> Outcome:
    with db.begin() as session:
        service.post_update(session, matrix, incident_id, text, actor, eta)
        doc = service.incident_document(session, service.get(session, incident_id))
    posted = _ops(settings).post(
        f"[{doc['severity']} {incident_id}] customer update posted by {_who(actor)}: {text}"
    )
    return Outcome(incident_id, doc, posted)


def correct_update(
    db: Database,
    settings: Settings,
    matrix: Matrix,
    actor: Actor,
    incident_id: str,
    update_id: int,
    text: str,
) -> Outcome:
    """Correct a published customer update (shown on /status in its place)."""

    def change(session: Session) -> None:
        service.correct_update(session, matrix, incident_id, update_id, text, actor)

    return _superseded(db, settings, actor, incident_id, update_id, "corrected", text, change)


def withdraw_update(
    db: Database, settings: Settings, actor: Actor, incident_id: str, update_id: int, note: str
) -> Outcome:
    """Withdraw a published customer update from /status."""

    def change(session: Session) -> None:
        service.withdraw_update(session, incident_id, update_id, actor, note)

    return _superseded(db, settings, actor, incident_id, update_id, "withdrawn", note, change)


def _superseded(
    db: Database,
    settings: Settings,
    actor: Actor,
    incident_id: str,
    update_id: int,
    verb: str,
    text: str,
    change: Callable[[Session], None],
) -> Outcome:
    with db.begin() as session:
        change(session)
        doc = service.incident_document(session, service.get(session, incident_id))
    posted = _ops(settings).post(
        f"[{doc['severity']} {incident_id}] customer update #{update_id} {verb} by "
        f"{_who(actor)}: {text}"
    )
    return Outcome(incident_id, doc, posted)


def _evidence_window(
    settings: Settings, opened_at: datetime, now: datetime
) -> tuple[datetime, datetime]:
    lead = timedelta(seconds=min(settings.incidents.before_window_s, 3600))
    return opened_at - lead, now + timedelta(milliseconds=1)


def live_impact(
    session: Session, settings: Settings, incident: Incident, now: datetime
) -> dict[str, Any]:
    """Before / during / after of an incident still open, measured up to ``now``."""
    return compute_impact(
        session,
        incident,
        now,
        before_s=settings.incidents.before_window_s,
        after_s=settings.incidents.after_window_s,
        alert_window_s=settings.observe.alert_window_s,
    )


def capture_evidence(db: Database, settings: Settings, actor: Actor, incident_id: str) -> Outcome:
    """Capture (again) the incident's evidence window up to now."""
    now = datetime.now(UTC)
    with db.begin() as session:
        incident = service.get(session, incident_id)
        start, end = _evidence_window(settings, incident.opened_at, incident.resolved_at or now)
        bundles = [
            b.to_dict()
            for b in incident_evidence.capture(session, settings, incident, start, end, actor)
        ]
        service.record_evidence_event(session, incident_id, actor, bundles)
        doc = service.incident_document(session, incident)
    return Outcome(incident_id, doc, True, {"evidence": bundles})


def resolve(
    db: Database,
    settings: Settings,
    matrix: Matrix,
    actor: Actor,
    incident_id: str,
    *,
    update: str | None = None,
    note: str | None = None,
    evidence: bool = True,
) -> Outcome:
    """Revert the incident's overrides, measure before/during/after, capture evidence."""
    now = datetime.now(UTC)
    with db.begin() as session:
        incident = service.get(session, incident_id, for_update=True)
        if incident.status != "open":
            raise ControlPlaneError(f"incident {incident_id} is already {incident.status}")
        measured = compute_impact(
            session,
            incident,
            now,
            before_s=settings.incidents.before_window_s,
            after_s=settings.incidents.after_window_s,
            alert_window_s=settings.observe.alert_window_s,
        )
        bundles: list[dict[str, Any]] = []
        if evidence:
            start, end = _evidence_window(settings, incident.opened_at, now)
            bundles = [
                b.to_dict()
                for b in incident_evidence.capture(session, settings, incident, start, end, actor)
            ]
        result = service.resolve(
            session,
            matrix,
            incident_id,
            actor,
            impact=measured,
            update=update,
            note=note,
            evidence=bundles,
            now=now,
        )
        doc = service.incident_document(session, result.incident)
        reverted = [
            {"id": r.id, "alias": r.alias, "kind": r.kind, "provider": r.provider}
            for r in result.reverted
        ]
    rates = " / ".join(f"{k} {_rate(measured[k])}" for k in ("before", "during", "after"))
    posted = _ops(settings).post(
        f":white_check_mark: [{doc['severity']} {incident_id}] resolved by {_who(actor)}. "
        f"Error rate {rates}. Reverted {len(reverted)} override(s)."
        + (f" Evidence: {', '.join(b['sha256'][:12] for b in bundles)}" if bundles else "")
    )
    return Outcome(
        incident_id, doc, posted, {"impact": measured, "reverted": reverted, "evidence": bundles}
    )


def _rate(period: dict[str, Any]) -> str:
    rate = period.get("error_rate")
    return "n/a" if rate is None else f"{rate:.1%} of {period['requests']}"
