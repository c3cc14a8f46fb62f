"""Reading the ledger tables: consistent snapshots for verification, export and proofs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sekisho.ledger.entry import StoredEntry
from sekisho.ledger.tables import CHECKPOINTS as _C
from sekisho.ledger.tables import ENTRIES as _E
from sekisho.ledger.tables import HEADS as _H
from sekisho.ledger.verify import CheckpointRecord, HeadRecord, LedgerData
from sekisho.store.db import Database

__all__ = [
    "checkpoints",
    "heads",
    "latest_checkpoint",
    "leaf_hashes",
    "ledger_names",
    "load_ledgers",
    "snapshot",
    "stored_entries",
]


def _raw(value: object) -> bytes:
    """Column bytes as stored. A tampered row may hold text or a number instead of a blob
    (SQLite is loosely typed): turn it into bytes so verification reports it, not crashes."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


@contextmanager
def snapshot(db: Database) -> Iterator[Session]:
    """A read-only session that sees one consistent state across several queries."""
    options = {} if db.is_sqlite else {"isolation_level": "REPEATABLE READ"}
    with (
        db.engine.connect().execution_options(**options) as conn,
        Session(bind=conn) as session,
        conn.begin(),
    ):
        yield session


def heads(session: Session) -> dict[str, HeadRecord]:
    rows = session.execute(select(_H.c.ledger, _H.c.size, _H.c.last_hash))
    return {r.ledger: HeadRecord(int(r.size), _raw(r.last_hash)) for r in rows}


def ledger_names(session: Session) -> list[str]:
    """Every ledger with a head row or any entry (a head could have been deleted)."""
    names = set(session.scalars(select(_H.c.ledger)))
    names |= set(session.scalars(select(_E.c.ledger).distinct()))
    names |= set(session.scalars(select(_C.c.ledger).distinct()))
    return sorted(names)


def stored_entries(
    session: Session, ledger: str, *, start: int = 0, stop: int | None = None
) -> list[StoredEntry]:
    """Entries of one ledger in seq order, with their stored hash columns."""
    stmt = select(_E.c.seq, _E.c.body, _E.c.leaf_hash, _E.c.prev, _E.c.sig).where(
        _E.c.ledger == ledger, _E.c.seq >= start
    )
    if stop is not None:
        stmt = stmt.where(_E.c.seq < stop)
    rows = session.execute(stmt.order_by(_E.c.seq).execution_options(yield_per=5000))
    return [
        StoredEntry(
            int(r.seq),
            _raw(r.body),
            _raw(r.leaf_hash),
            _raw(r.prev),
            None if r.sig is None else _raw(r.sig),
        )
        for r in rows
    ]


def leaf_hashes(session: Session, ledger: str, stop: int) -> list[tuple[int, bytes]]:
    """(seq, stored leaf hash) for seq < stop, in order."""
    rows = session.execute(
        select(_E.c.seq, _E.c.leaf_hash)
        .where(_E.c.ledger == ledger, _E.c.seq < stop)
        .order_by(_E.c.seq)
        .execution_options(yield_per=20000)
    )
    return [(int(seq), bytes(h)) for seq, h in rows]


def checkpoints(session: Session, ledger: str | None = None) -> list[CheckpointRecord]:
    stmt = select(_C.c.ledger, _C.c.size, _C.c.root, _C.c.note, _C.c.created_at)
    if ledger is not None:
        stmt = stmt.where(_C.c.ledger == ledger)
    rows = session.execute(stmt.order_by(_C.c.ledger, _C.c.size))
    return [
        CheckpointRecord(r.ledger, int(r.size), _raw(r.root), r.note, r.created_at) for r in rows
    ]


def latest_checkpoint(session: Session, ledger: str) -> CheckpointRecord | None:
    size = session.scalar(select(func.max(_C.c.size)).where(_C.c.ledger == ledger))
    if size is None:
        return None
    row = session.execute(
        select(_C.c.ledger, _C.c.size, _C.c.root, _C.c.note, _C.c.created_at).where(
            _C.c.ledger == ledger, _C.c.size == size
        )
    ).one()
    return CheckpointRecord(row.ledger, int(row.size), _raw(row.root), row.note, row.created_at)


def load_ledgers(session: Session, names: Sequence[str] | None = None) -> list[LedgerData]:
    """Everything verification needs about the named ledgers (default: all)."""
    head_rows = heads(session)
    all_checkpoints = checkpoints(session)
    out = []
    for name in names if names is not None else ledger_names(session):
        out.append(
            LedgerData(
                name=name,
                entries=stored_entries(session, name),
                checkpoints=[cp for cp in all_checkpoints if cp.ledger == name],
                head=head_rows.get(name, HeadRecord(0, bytes(32))),
            )
        )
    return out
