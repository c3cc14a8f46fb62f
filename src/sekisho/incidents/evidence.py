"""Capture an incident's request-log evidence window, in the shared evidence bundle format.

One bundle per affected alias (`sekisho.evidence`: JSONL + manifest of
SHA-256), with the incident's timeline added as one more file; each bundle
is written to the evidence directory and recorded (row + ledger entry)
in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from sekisho.actor import Actor
from sekisho.evidence import EvidenceFilters, EvidenceWindow, collect_bundle, record_bundle
from sekisho.evidence.bundle import jsonl, make_bundle, unused_path, write_bundle
from sekisho.incidents.service import events
from sekisho.incidents.tables import Incident
from sekisho.settings import Settings


@dataclass(frozen=True, slots=True)
class CapturedBundle:
    alias: str
    path: str
    sha256: str
    records: int
    bundle_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "path": self.path,
            "sha256": self.sha256,
            "records": self.records,
            "bundle_id": self.bundle_id,
        }


def evidence_dir(settings: Settings) -> Path:
    configured = settings.incidents.evidence_dir
    return Path(configured) if configured else Path(settings.state_dir) / "evidence" / "incidents"


def capture(
    session: Session,
    settings: Settings,
    incident: Incident,
    start: datetime,
    end: datetime,
    actor: Actor,
) -> list[CapturedBundle]:
    """Write and record one bundle per affected alias for [start, end)."""
    window = EvidenceWindow(start, end)
    timeline = jsonl(
        [
            {
                "ts": e.ts.isoformat(),
                "kind": e.kind,
                "public": e.public,
                "author": e.author,
                "text": e.text,
                "details": e.details,
            }
            for e in events(session, incident.id)
        ]
    )
    meta = {"incident": incident.id, "severity": incident.severity, "title": incident.title}
    out: list[CapturedBundle] = []
    for alias in incident.aliases:
        filters = EvidenceFilters(alias=alias)
        base = collect_bundle(session, filters, window)
        bundle = make_bundle(
            {**base.files, "incident_timeline.jsonl": timeline}, filters, window, meta
        )
        stamp = end.strftime("%Y%m%dT%H%M%SZ")
        # Named by content: a later capture never rewrites a recorded bundle.
        target = unused_path(evidence_dir(settings), f"{incident.id}-{alias}-{stamp}", bundle)
        path = write_bundle(bundle, target)
        row = record_bundle(
            session,
            bundle,
            purpose="incident",
            actor=actor,
            keep_content=True,  # fetchable later: `sekisho evidence get ID`
            note=f"incident {incident.id} evidence for alias {alias}",
        )
        records = sum(
            int(f.get("records", 0))
            for f in bundle.manifest["files"]
            if f["name"] == "request_log.jsonl"
        )
        out.append(CapturedBundle(alias, str(path), bundle.sha256, records, row.id))
    return out
