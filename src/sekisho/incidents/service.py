"""Incidents: open, note, customer update, resolve. Each writes its ledger entry in the same
transaction as the change (Rule 10).

Internal notes may name providers; they go to the ops channel. Titles and
customer updates are shown on the public status page, so they must pass the
leak check against the live matrix; a refusal changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho import audit
from sekisho.actor import Actor
from sekisho.control import overrides as override_service
from sekisho.control.errors import ControlPlaneError
from sekisho.ids import new_id
from sekisho.incidents.tables import Incident, IncidentEvent
from sekisho.matrix import Matrix
from sekisho.matrix.leakcheck import leaks_in
from sekisho.store.models import AliasOverride

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
MAX_TEXT = 4000


class IncidentNotFound(ControlPlaneError):
    """No incident with that id."""


def check_customer_text(matrix: Matrix, text: str, what: str) -> str:
    """Refuse customer-facing text that is empty, too long or reveals a provider."""
    text = text.strip()
    if not text:
        raise ControlPlaneError(f"{what} is empty")
    if len(text) > MAX_TEXT:
        raise ControlPlaneError(f"{what} is longer than {MAX_TEXT} characters")
    leaks = leaks_in(text, matrix)
    if leaks:
        raise ControlPlaneError(
            f"{what} refused: it reveals provider identity ({', '.join(leaks)}); "
            "customer text may name aliases only"
        )
    return text


def ledger_safe(value: Any) -> Any:
    """The ledger's canonical JSON takes no floats: rates become fixed-point strings."""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict):
        return {k: ledger_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [ledger_safe(v) for v in value]
    return value


def _who(actor: Actor) -> str:
    return actor.email or actor.id


def get(session: Session, incident_id: str, *, for_update: bool = False) -> Incident:
    stmt = select(Incident).where(Incident.id == incident_id)
    row = session.scalars(stmt.with_for_update() if for_update else stmt).first()
    if row is None:
        raise IncidentNotFound(f"no incident {incident_id!r}")
    return row


def _event(
    session: Session,
    incident: Incident,
    kind: str,
    actor: Actor,
    text: str,
    *,
    public: bool = False,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> IncidentEvent:
    event = IncidentEvent(
        incident_id=incident.id,
        ts=now or datetime.now(UTC),
        kind=kind,
        public=public,
        author=_who(actor),
        text=text,
        details=details,
    )
    session.add(event)
    session.flush()
    return event


def open_incident(
    session: Session,
    matrix: Matrix,
    *,
    title: str,
    severity: str,
    aliases: Sequence[str],
    actor: Actor,
    eta: datetime | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Open an incident; `note` (internal) starts the timeline."""
    now = now or datetime.now(UTC)
    severity = severity.upper()
    if severity not in SEVERITIES:
        raise ControlPlaneError(f"severity must be one of {', '.join(SEVERITIES)}")
    names = list(dict.fromkeys(a.strip() for a in aliases if a.strip()))
    if not names:
        raise ControlPlaneError("an incident names at least one affected alias")
    unknown = [a for a in names if a not in matrix.aliases]
    if unknown:
        raise ControlPlaneError(f"unknown alias(es): {', '.join(unknown)}")
    title = check_customer_text(matrix, title, "the title")
    incident = Incident(
        id=new_id("inc", 6),
        title=title,
        severity=severity,
        status="open",
        aliases=names,
        eta=eta,
        opened_at=now,
        opened_by=_who(actor),
    )
    session.add(incident)
    session.flush()
    _event(
        session,
        incident,
        "opened",
        actor,
        note or title,
        details={"severity": severity, "aliases": names, "eta": eta.isoformat() if eta else None},
        now=now,
    )
    audit.record(
        session,
        actor,
        "incident.open",
        ("incident", incident.id),
        note=note,
        details={
            "title": title,
            "severity": severity,
            "aliases": names,
            "eta": eta.isoformat() if eta else None,
        },
    )
    return incident


def _open(session: Session, incident_id: str) -> Incident:
    incident = get(session, incident_id, for_update=True)
    if incident.status != "open":
        raise ControlPlaneError(f"incident {incident_id} is already {incident.status}")
    return incident


def add_note(
    session: Session, incident_id: str, text: str, actor: Actor, severity: str | None = None
) -> IncidentEvent:
    """An internal timeline note (may name providers); optionally changes the severity."""
    incident = _open(session, incident_id)
    text = text.strip()
    if not text:
        raise ControlPlaneError("the note is empty")
    details: dict[str, Any] = {}
    if severity:
        severity = severity.upper()
        if severity not in SEVERITIES:
            raise ControlPlaneError(f"severity must be one of {', '.join(SEVERITIES)}")
        details = {"severity": {"from": incident.severity, "to": severity}}
        incident.severity = severity
    event = _event(session, incident, "note", actor, text, details=details or None)
    audit.record(
        session,
        actor,
        "incident.note",
        ("incident", incident.id),
        note=text,
        details=details or None,
    )
    return event


def post_update(
    session: Session,
    matrix: Matrix,
    incident_id: str,
    text: str,
    actor: Actor,
    eta: datetime | None = None,
) -> IncidentEvent:
    """A customer-facing update (leak-checked), shown on the status page."""
    incident = _open(session, incident_id)
    text = check_customer_text(matrix, text, "the customer update")
    details: dict[str, Any] = {}
    if eta is not None:
        incident.eta = eta
        details["eta"] = eta.isoformat()
    event = _event(session, incident, "update", actor, text, public=True, details=details or None)
    audit.record(
        session,
        actor,
        "incident.update",
        ("incident", incident.id),
        note=text,
        details=details or None,
    )
    return event


def _published_update(session: Session, incident: Incident, update_id: int) -> IncidentEvent:
    event = session.get(IncidentEvent, update_id)
    if event is None or event.incident_id != incident.id or event.kind != "update":
        raise ControlPlaneError(
            f"incident {incident.id} has no customer update #{update_id} "
            "(see `sekisho incident show` for update numbers)"
        )
    withdrawn = [
        e for e in events(session, incident.id) if (e.details or {}).get("withdraws") == update_id
    ]
    if withdrawn:
        raise ControlPlaneError(f"customer update #{update_id} is already withdrawn")
    return event


def correct_update(
    session: Session,
    matrix: Matrix,
    incident_id: str,
    update_id: int,
    text: str,
    actor: Actor,
) -> IncidentEvent:
    """Replace what /status shows for a published update (leak-checked); the ledger keeps both."""
    text = check_customer_text(matrix, text, "the corrected update")
    return _supersede(session, incident_id, update_id, actor, "correction", text)


def withdraw_update(
    session: Session, incident_id: str, update_id: int, actor: Actor, note: str
) -> IncidentEvent:
    """Take a published update off /status (it stays in the timeline and the ledger)."""
    note = note.strip()
    if not note:
        raise ControlPlaneError("say why the update is withdrawn (--note)")
    return _supersede(session, incident_id, update_id, actor, "withdrawal", note)


_SUPERSEDE = {
    "correction": ("corrects", "incident.update.correct"),
    "withdrawal": ("withdraws", "incident.update.withdraw"),
}


def _supersede(
    session: Session, incident_id: str, update_id: int, actor: Actor, kind: str, text: str
) -> IncidentEvent:
    incident = get(session, incident_id, for_update=True)
    original = _published_update(session, incident, update_id)
    link, action = _SUPERSEDE[kind]
    event = _event(session, incident, kind, actor, text, details={link: original.id})
    audit.record(
        session,
        actor,
        action,
        ("incident", incident.id),
        note=text,
        details={"update_id": original.id, "original": original.text},
    )
    return event


@dataclass(frozen=True, slots=True)
class CustomerUpdate:
    """A customer update as /status shows it: corrected text, withdrawn ones left out."""

    id: int
    ts: datetime
    text: str
    corrected_at: datetime | None = None


def customer_updates(timeline: Sequence[IncidentEvent]) -> list[CustomerUpdate]:
    """The updates customers see, oldest first. Pure over the timeline rows."""
    corrections: dict[int, IncidentEvent] = {}
    withdrawn: set[int] = set()
    for e in timeline:
        details = e.details or {}
        if e.kind == "correction" and isinstance(details.get("corrects"), int):
            corrections[details["corrects"]] = e  # the latest correction wins
        elif e.kind == "withdrawal" and isinstance(details.get("withdraws"), int):
            withdrawn.add(details["withdraws"])
    out = []
    for e in timeline:
        if e.kind != "update" or not e.public or e.id in withdrawn:
            continue
        fix = corrections.get(e.id)
        out.append(CustomerUpdate(e.id, e.ts, fix.text if fix else e.text, fix.ts if fix else None))
    return out


def attached_overrides(session: Session, incident_id: str) -> list[AliasOverride]:
    return list(
        session.scalars(
            select(AliasOverride)
            .where(AliasOverride.incident_id == incident_id)
            .order_by(AliasOverride.created_at)
        ).all()
    )


@dataclass(frozen=True, slots=True)
class Resolution:
    incident: Incident
    reverted: list[AliasOverride]
    impact: dict[str, Any]


def resolve(
    session: Session,
    matrix: Matrix,
    incident_id: str,
    actor: Actor,
    *,
    impact: dict[str, Any],
    update: str | None = None,
    note: str | None = None,
    evidence: list[dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> Resolution:
    """Close the incident: revert its active overrides, record impact and evidence."""
    now = now or datetime.now(UTC)
    incident = _open(session, incident_id)
    if update:
        update = check_customer_text(matrix, update, "the customer update")
    reverted: list[AliasOverride] = []
    active = {r.id for r in override_service.active_rows(session, now)}
    for row in attached_overrides(session, incident.id):
        if row.id in active:
            reverted += override_service.revert_overrides(
                session,
                alias=row.alias,
                actor=actor,
                override_id=row.id,
                now=now,
                note=f"incident {incident.id} resolved",
            )
    incident.status, incident.resolved_at, incident.resolved_by = "resolved", now, _who(actor)
    incident.impact = impact
    if update:
        _event(session, incident, "update", actor, update, public=True, now=now)
    details = {
        "impact": impact,
        "reverted_overrides": [r.id for r in reverted],
        "evidence": evidence or [],
    }
    _event(session, incident, "resolved", actor, note or "resolved", details=details, now=now)
    audit.record(
        session,
        actor,
        "incident.resolve",
        ("incident", incident.id),
        note=note,
        details=ledger_safe(details),
    )
    return Resolution(incident, reverted, impact)


def record_evidence_event(
    session: Session, incident_id: str, actor: Actor, bundles: list[dict[str, Any]]
) -> None:
    incident = get(session, incident_id)
    _event(
        session,
        incident,
        "evidence",
        actor,
        f"evidence captured: {len(bundles)} bundle(s)",
        details={"bundles": bundles},
    )


def list_incidents(
    session: Session, *, include_resolved: bool = False, limit: int = 50
) -> list[Incident]:
    stmt = select(Incident).order_by(Incident.opened_at.desc()).limit(limit)
    if not include_resolved:
        stmt = stmt.where(Incident.status == "open")
    return list(session.scalars(stmt).all())


def events(session: Session, incident_id: str, *, public_only: bool = False) -> list[IncidentEvent]:
    stmt = select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
    if public_only:
        stmt = stmt.where(IncidentEvent.public.is_(True))
    return list(session.scalars(stmt.order_by(IncidentEvent.ts, IncidentEvent.id)).all())


def evidence_bundles(timeline: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every bundle captured for an incident (at resolution and on demand), oldest first."""
    seen: dict[str, dict[str, Any]] = {}
    for event in timeline:
        details = event.get("details") or {}
        found = details.get("bundles") if event["kind"] == "evidence" else details.get("evidence")
        for bundle in found or []:
            key = bundle.get("bundle_id") or bundle.get("sha256")
            if key and key not in seen:
                seen[key] = {**bundle, "captured_at": event["ts"]}
    return list(seen.values())


def incident_document(session: Session, incident: Incident) -> dict[str, Any]:
    """Everything about an incident for operators: timeline, overrides, impact, evidence."""
    doc = _document(
        incident, events(session, incident.id), attached_overrides(session, incident.id)
    )
    doc["evidence"] = evidence_bundles(doc["timeline"])
    return doc


def incident_documents(session: Session, incidents: Sequence[Incident]) -> list[dict[str, Any]]:
    """`incident_document` of several incidents in three queries, not two per incident."""
    ids = [i.id for i in incidents]
    timeline: dict[str, list[IncidentEvent]] = {i: [] for i in ids}
    attached: dict[str, list[AliasOverride]] = {i: [] for i in ids}
    if ids:
        for e in session.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id.in_(ids))
            .order_by(IncidentEvent.ts, IncidentEvent.id)
        ):
            timeline[e.incident_id].append(e)
        for o in session.scalars(
            select(AliasOverride)
            .where(AliasOverride.incident_id.in_(ids))
            .order_by(AliasOverride.created_at)
        ):
            attached[o.incident_id or ""].append(o)
    docs = []
    for incident in incidents:
        doc = _document(incident, timeline[incident.id], attached[incident.id])
        doc["evidence"] = evidence_bundles(doc["timeline"])
        docs.append(doc)
    return docs


def _document(
    incident: Incident, timeline: Sequence[IncidentEvent], overrides: Sequence[AliasOverride]
) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "aliases": incident.aliases,
        "eta": incident.eta.isoformat() if incident.eta else None,
        "opened_at": incident.opened_at.isoformat(),
        "opened_by": incident.opened_by,
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "resolved_by": incident.resolved_by,
        "impact": incident.impact,
        "timeline": [
            {
                "id": e.id,
                "ts": e.ts.isoformat(),
                "kind": e.kind,
                "public": e.public,
                "author": e.author,
                "text": e.text,
                "details": e.details,
            }
            for e in timeline
        ],
        "overrides": [
            {
                "id": o.id,
                "alias": o.alias,
                "kind": o.kind,
                "provider": o.provider,
                "created_at": o.created_at.isoformat(),
                "expires_at": o.expires_at.isoformat(),
                "reverted_at": o.reverted_at.isoformat() if o.reverted_at else None,
            }
            for o in overrides
        ],
    }
