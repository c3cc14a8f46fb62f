"""Rows the store refused even alone: kept aside with the error, never silently lost (Rule 13)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sekisho.store.base import Base, UTCDateTime

__all__ = ["RequestLogDeadLetter"]


class RequestLogDeadLetter(Base):
    """One request-log row that could not be written: serialized as JSON, with the reason."""

    __tablename__ = "request_log_dead_letter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    request_id: Mapped[str | None] = mapped_column(String(64))
    tenant_id: Mapped[str | None] = mapped_column(String(40))
    row: Mapped[str] = mapped_column(Text)  # the row as JSON (orjson, values made safe)
    error: Mapped[str] = mapped_column(Text)
