"""Two-step lifecycle requests (migration b1_suspension_requests). Rows are never deleted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sekisho.store.base import Base, UTCDateTime

REQUEST_KINDS = ("suspension", "reinstatement", "offboarding", "offboarding_complete")
REQUEST_STATES = ("pending", "executed", "withdrawn")


class SuspensionRequestRow(Base):
    """An operator's request for a lifecycle step, waiting for the matching owner's sign-off."""

    __tablename__ = "suspension_requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    review_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_via: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_via: Mapped[str | None] = mapped_column(String(64))
    decision_note: Mapped[str | None] = mapped_column(Text)
    suspension_id: Mapped[str | None] = mapped_column(String(40))
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_suspension_requests_state", "state"),)
