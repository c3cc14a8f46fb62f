"""Appending to a ledger inside the caller's database transaction.

Appends to one ledger are serialized by locking its head row (``SELECT ...
FOR UPDATE`` on PostgreSQL; on SQLite the write transaction is already
exclusive). The next seq comes from the head row, so a rolled-back append
leaves no gap, and ``PRIMARY KEY (ledger, seq)`` plus ``UNIQUE (ledger,
prev)`` make a fork impossible to write even if the lock were bypassed.

The first entry of a tenant's ledger also records ``ledger.open`` in the
platform ledger (same transaction), so a whole tenant ledger cannot vanish
unnoticed. To avoid lock-order deadlocks that path locks the platform head
before creating the tenant head.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sekisho.ledger.entry import (
    LEDGER_OPEN,
    PLATFORM_LEDGER,
    SYSTEM_ACTOR,
    ZERO_HASH,
    LedgerEntry,
    build_entry,
    ledger_for,
)
from sekisho.ledger.signing import sign_leaf, signer_for_session
from sekisho.ledger.tables import ENTRIES as _ENTRIES
from sekisho.ledger.tables import HEADS as _HEADS

__all__ = ["append"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def append(
    session: Session,
    *,
    actor: Any,
    action: str,
    target: Any,
    tenant: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    authorized_by: Any = None,
    request_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    ledger: str | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> LedgerEntry:
    """Append one entry in the caller's transaction and return it.

    ``actor``/``authorized_by``: ``sekisho.actor.Actor`` or a mapping with
    type, id, optional email and role. ``target``: ``{"type", "id"}`` or a
    (type, id) pair. The entry goes to the tenant's ledger when ``tenant`` is
    given, else to ``platform`` (or the non-tenant ``ledger`` named). Raises
    EntryError for invalid or secret-looking fields.
    """
    name = ledger_for(tenant, ledger)
    size, prev = _lock_head(session, name, request_id, clock)
    entry = build_entry(
        ledger=name,
        seq=size,
        time=clock(),
        prev=prev,
        actor=actor,
        action=action,
        target=target,
        tenant=tenant,
        reason=reason,
        note=note,
        authorized_by=authorized_by,
        request_id=request_id,
        details=details,
    )
    _write(session, entry)
    return entry


def _write(session: Session, entry: LedgerEntry) -> None:
    signer = signer_for_session(session.info)
    session.execute(
        insert(_ENTRIES).values(
            ledger=entry.ledger,
            seq=entry.seq,
            time=entry.time,
            body=entry.body,
            leaf_hash=entry.leaf_hash,
            prev=entry.prev,
            sig=None if signer is None else sign_leaf(signer, entry.leaf_hash),
        )
    )
    moved = session.execute(
        update(_HEADS)
        .where(_HEADS.c.ledger == entry.ledger, _HEADS.c.size == entry.seq)
        .values(size=entry.seq + 1, last_hash=entry.leaf_hash)
    )
    if getattr(moved, "rowcount", 1) != 1:  # the head moved under us: never write a fork
        raise RuntimeError(f"ledger head {entry.ledger} changed during append")


def _select_head(session: Session, name: str) -> tuple[int, bytes] | None:
    row = session.execute(
        select(_HEADS.c.size, _HEADS.c.last_hash).where(_HEADS.c.ledger == name).with_for_update()
    ).first()
    return None if row is None else (int(row.size), bytes(row.last_hash))


def _create_head(session: Session, name: str) -> bool:
    """Insert an empty head row unless one exists; True if this call created it."""
    dialect = session.get_bind().dialect.name
    maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        maker(_HEADS)
        .values(ledger=name, size=0, last_hash=ZERO_HASH)
        .on_conflict_do_nothing(index_elements=["ledger"])
        .returning(_HEADS.c.ledger)
    )
    return session.execute(stmt).first() is not None


def _lock_head(
    session: Session, name: str, request_id: str | None, clock: Callable[[], datetime]
) -> tuple[int, bytes]:
    head = _select_head(session, name)
    if head is not None:
        return head
    if name != PLATFORM_LEDGER:
        # Lock order platform -> tenant whenever a ledger is being created.
        _lock_head(session, PLATFORM_LEDGER, request_id, clock)
    if _create_head(session, name) and name != PLATFORM_LEDGER:
        append(
            session,
            actor=SYSTEM_ACTOR,
            action=LEDGER_OPEN,
            target={"type": "ledger", "id": name},
            request_id=request_id,
            clock=clock,
        )
    head = _select_head(session, name)
    if head is None:  # pragma: no cover - the row was just inserted or already existed
        raise RuntimeError(f"ledger head {name} vanished")
    return head
