"""Guardrail tables: one row per finding, and each tenant's chosen policy.

A finding row holds what was found and where (type, span, score) and a
salted hash of the value — never the value itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sekisho.store.base import Base, UTCDateTime


class GuardrailEventRow(Base):
    __tablename__ = "guardrail_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    tenant_id: Mapped[str | None] = mapped_column(String(40))
    key_id: Mapped[str | None] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(String(40))
    request_id: Mapped[str] = mapped_column(String(40))
    alias: Mapped[str | None] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(8))  # input | output
    check: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(8))  # block | mask | flag | error
    enforced: Mapped[bool] = mapped_column(Boolean)  # False in monitor mode
    kind: Mapped[str] = mapped_column(String(40))  # e.g. visa, aws_access_key, timeout
    location: Mapped[str] = mapped_column(String(200))  # e.g. messages[2].content
    span_start: Mapped[int | None] = mapped_column(Integer)
    span_end: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float)
    value_hash: Mapped[str | None] = mapped_column(String(64))
    policy: Mapped[str] = mapped_column(String(100))
    policy_version: Mapped[str] = mapped_column(String(120))
    latency_ms: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_guardrail_events_ts", "ts"),
        Index("ix_guardrail_events_tenant_ts", "tenant_id", "ts"),
        Index("ix_guardrail_events_alias_ts", "alias", "ts"),
        Index("ix_guardrail_events_request", "request_id"),
    )


class TenantGuardrailPolicy(Base):
    """A tenant's own policy (else the config's default_policy); `version` counts changes."""

    __tablename__ = "tenant_guardrail_policies"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    policy: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(320))
