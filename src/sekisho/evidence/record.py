"""Recording a bundle: its row and its ledger entry, in the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho import audit
from sekisho.actor import Actor
from sekisho.evidence.bundle import Bundle
from sekisho.ids import new_id
from sekisho.ledger.tables import LedgerEntryRow
from sekisho.store.models import EvidenceBundleRecord


def record_bundle(
    session: Session,
    bundle: Bundle,
    *,
    purpose: str,
    actor: Actor,
    keep_content: bool = False,
    note: str | None = None,
) -> EvidenceBundleRecord:
    """Store the bundle's manifest (and bytes if `keep_content`) and write its ledger entry."""
    window = bundle.manifest["window"]
    filters = bundle.manifest["filters"]
    row = EvidenceBundleRecord(
        id=new_id("evb", 8),
        sha256=bundle.sha256,
        purpose=purpose,
        tenant_id=filters["tenant"],
        alias=filters["alias"],
        window_start=datetime.fromisoformat(window["from"]),
        window_end=datetime.fromisoformat(window["to"]),
        manifest=bundle.manifest_bytes.decode(),
        content=bundle.tar_bytes() if keep_content else None,
        created_at=datetime.now(UTC),
        created_by=actor.email or actor.id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        f"evidence.{purpose}",
        ("evidence_bundle", row.id),
        tenant_id=filters["tenant"],
        note=note,
        details={
            "bundle_sha256": bundle.sha256,
            "alias": filters["alias"],
            "window_from": window["from"],
            "window_to": window["to"],
            "files": {f["name"]: f["sha256"] for f in bundle.manifest["files"]},
            "records": sum(f.get("records", 0) for f in bundle.manifest["files"]),
        },
    )
    return row


def ledger_entry_for(session: Session, bundle_sha256: str) -> dict[str, Any] | None:
    """The ledger entry that recorded a bundle with this hash, if any."""
    ids = session.scalars(
        select(EvidenceBundleRecord.id).where(EvidenceBundleRecord.sha256 == bundle_sha256)
    ).all()
    if not ids:
        return None
    for body in session.scalars(select(LedgerEntryRow.body)):
        entry = orjson.loads(body)
        target = entry.get("target") or {}
        if (
            target.get("type") == "evidence_bundle"
            and target.get("id") in ids
            and (entry.get("details") or {}).get("bundle_sha256") == bundle_sha256
        ):
            return entry  # type: ignore[no-any-return]
    return None
