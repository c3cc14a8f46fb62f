"""Shared helpers for ledger store tests: filling a ledger, tampering like an attacker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text

from sekisho.ledger.append import append
from sekisho.ledger.entry import LedgerEntry
from sekisho.ledger.note import NoteSigner
from sekisho.ledger.publish import DirectoryPublisher
from sekisho.ledger.service import LedgerService
from sekisho.store.db import Database

ORIGIN = "sekisho.test/ledger"
OPS = {"type": "user", "id": "usr_ops", "email": "ops@example.com", "role": "operator"}
SIGNER = NoteSigner.generate(ORIGIN)  # Ed25519 key generation is cheap, but one will do

GUARDS = {
    "ledger_entries": (
        "ledger_entries_no_update",
        "ledger_entries_no_delete",
        "ledger_entries_no_rewrite",
        "ledger_entries_no_truncate",
    ),
    "ledger_checkpoints": (
        "ledger_checkpoints_no_update",
        "ledger_checkpoints_no_delete",
        "ledger_checkpoints_no_rewrite",
        "ledger_checkpoints_no_truncate",
    ),
    "ledger_heads": ("ledger_heads_no_delete", "ledger_heads_forward", "ledger_heads_no_truncate"),
}


def service(db: Database, tmp_path: Path, signer: NoteSigner = SIGNER) -> LedgerService:
    published = tmp_path / "published"
    return LedgerService(
        db,
        signer,
        origin=ORIGIN,
        publishers=[DirectoryPublisher(published)],
        witness_paths=[published],
    )


def fill(db: Database, n: int, *, tenant: str | None = None, start: int = 0) -> list[LedgerEntry]:
    """Append n entries, one transaction each."""
    out = []
    for i in range(start, start + n):
        with db.begin() as session:
            out.append(
                append(
                    session,
                    actor=OPS,
                    action="alias.override",
                    target=("alias", f"chat-{i}"),
                    tenant=tenant,
                    note=f"drill step {i}",
                    details={"step": i},
                )
            )
    return out


def raw(db: Database, sql: str, **params: Any) -> Any:
    with db.engine.begin() as conn:
        return conn.execute(text(sql), params)


def drop_guards(db: Database) -> None:
    """What an attacker with DDL rights does first."""
    for table, names in GUARDS.items():
        for name in names:
            if db.is_sqlite:
                raw(db, f"DROP TRIGGER IF EXISTS {name}")
            else:
                raw(db, f"DROP TRIGGER IF EXISTS {name} ON {table}")
