"""Recorded bundles, read back: list them, fetch one (its bytes checked against its hash).

A bundle whose hash is in the ledger is immutable. What the store kept
(security-suspension snapshots, incident bundles) can be fetched again; the
bytes are re-hashed against the recorded hash before anyone gets them.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho.evidence.bundle import MANIFEST, BundleError
from sekisho.store.models import EvidenceBundleRecord

__all__ = [
    "BundleNotFound",
    "BundleSummary",
    "ContentNotKept",
    "bundle_bytes",
    "get_bundle",
    "list_bundles",
]


class BundleNotFound(BundleError):
    """No recorded bundle has this id."""


class ContentNotKept(BundleError):
    """The bundle's bytes were written to a file at export time and not kept in the store."""


@dataclass(frozen=True, slots=True)
class BundleSummary:
    """What a person (or the admin API) sees of a recorded bundle."""

    id: str
    sha256: str
    purpose: str
    tenant_id: str | None
    alias: str | None
    window_from: str
    window_to: str
    created_at: str
    created_by: str
    records: int
    fetchable: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sha256": self.sha256,
            "purpose": self.purpose,
            "tenant_id": self.tenant_id,
            "alias": self.alias,
            "window": {"from": self.window_from, "to": self.window_to},
            "created_at": self.created_at,
            "created_by": self.created_by,
            "records": self.records,
            "fetchable": self.fetchable,
        }


def _summary(row: EvidenceBundleRecord) -> BundleSummary:
    try:
        import orjson

        manifest = orjson.loads(row.manifest)
        records = sum(int(f.get("records", 0)) for f in manifest.get("files", []))
    except (ValueError, TypeError, AttributeError):
        records = 0
    return BundleSummary(
        id=row.id,
        sha256=row.sha256,
        purpose=row.purpose,
        tenant_id=row.tenant_id,
        alias=row.alias,
        window_from=row.window_start.isoformat(),
        window_to=row.window_end.isoformat(),
        created_at=row.created_at.isoformat(),
        created_by=row.created_by,
        records=records,
        fetchable=row.content is not None,
    )


def list_bundles(
    session: Session,
    *,
    tenant_id: str | None = None,
    purpose: str | None = None,
    sha256: str | None = None,
    limit: int = 200,
) -> list[BundleSummary]:
    """Recorded bundles, newest first."""
    stmt = select(EvidenceBundleRecord)
    if tenant_id is not None:
        stmt = stmt.where(EvidenceBundleRecord.tenant_id == tenant_id)
    if purpose is not None:
        stmt = stmt.where(EvidenceBundleRecord.purpose == purpose)
    if sha256 is not None:
        stmt = stmt.where(EvidenceBundleRecord.sha256 == sha256)
    stmt = stmt.order_by(EvidenceBundleRecord.created_at.desc(), EvidenceBundleRecord.id)
    return [_summary(row) for row in session.scalars(stmt.limit(limit))]


def get_bundle(session: Session, bundle_id: str) -> BundleSummary:
    row = session.get(EvidenceBundleRecord, bundle_id)
    if row is None:
        raise BundleNotFound(f"no evidence bundle {bundle_id!r}")
    return _summary(row)


def bundle_bytes(session: Session, bundle_id: str) -> tuple[BundleSummary, bytes]:
    """The bundle's tar bytes, refused unless its manifest still hashes to the recorded hash."""
    row = session.get(EvidenceBundleRecord, bundle_id)
    if row is None:
        raise BundleNotFound(f"no evidence bundle {bundle_id!r}")
    if row.content is None:
        raise ContentNotKept(
            f"bundle {bundle_id} ({row.purpose}) was written to a file when it was exported; "
            "the store keeps its hash and manifest only"
        )
    data = bytes(row.content)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            member = tar.extractfile(MANIFEST)
            manifest = member.read() if member else b""
    except (tarfile.TarError, KeyError) as exc:
        raise BundleError(f"bundle {bundle_id}: stored bytes are not a bundle") from exc
    if hashlib.sha256(manifest).hexdigest() != row.sha256:
        raise BundleError(
            f"bundle {bundle_id}: stored bytes do not match the recorded SHA-256 {row.sha256}"
        )
    return _summary(row), data
