"""Ledger tables on the shared metadata: entries, one head row per ledger, checkpoints.

Entries and checkpoints are append-only; the migration installs triggers that
refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL). The head row is the
lock that serializes appends to one ledger and the source of the next seq.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sekisho.store.base import Base, UTCDateTime

__all__ = [
    "CHECKPOINTS",
    "ENTRIES",
    "HEADS",
    "LedgerCheckpointRow",
    "LedgerEntryRow",
    "LedgerHeadRow",
]


class LedgerEntryRow(Base):
    """One entry; ``body`` holds the exact canonical bytes that were hashed."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        PrimaryKeyConstraint("ledger", "seq", name="pk_ledger_entries"),
        # Two entries claiming the same predecessor would be a fork.
        UniqueConstraint("ledger", "prev", name="uq_ledger_entries_ledger_prev"),
    )

    ledger: Mapped[str] = mapped_column(String(80))
    seq: Mapped[int] = mapped_column(BigInteger)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    body: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    prev: Mapped[bytes] = mapped_column(LargeBinary(32))
    # Ed25519 signature of the gateway's ledger key over the leaf hash (sekisho.ledger.signing);
    # NULL only for entries written before signatures existed.
    sig: Mapped[bytes | None] = mapped_column(LargeBinary(64), nullable=True)


class LedgerHeadRow(Base):
    """Per-ledger size and last leaf hash; locked by every append."""

    __tablename__ = "ledger_heads"

    ledger: Mapped[str] = mapped_column(String(80), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerCheckpointRow(Base):
    """A signed checkpoint (C2SP signed note) of one ledger at one size."""

    __tablename__ = "ledger_checkpoints"
    __table_args__ = (PrimaryKeyConstraint("ledger", "size", name="pk_ledger_checkpoints"),)

    ledger: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# Core handles for the statements of append, queries and the service.
ENTRIES = cast(Table, LedgerEntryRow.__table__)
HEADS = cast(Table, LedgerHeadRow.__table__)
CHECKPOINTS = cast(Table, LedgerCheckpointRow.__table__)
