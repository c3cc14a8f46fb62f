"""Appending in the caller's transaction, and the database refusing rewrites (both backends)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError, IntegrityError

from sekisho.ledger.append import append
from sekisho.ledger.entry import LEDGER_OPEN, EntryError, entry_from_body
from sekisho.ledger.queries import heads, snapshot, stored_entries
from sekisho.store.db import Database

from .helpers import OPS, fill, raw


def test_append_assigns_seq_and_chains(any_db: Database) -> None:
    entries = fill(any_db, 3)
    assert [e.seq for e in entries] == [0, 1, 2]
    assert entries[1].prev == entries[0].leaf_hash
    with snapshot(any_db) as session:
        stored = stored_entries(session, "platform")
        assert [s.body for s in stored] == [e.body for e in entries]  # exact bytes
        assert heads(session)["platform"].size == 3


def test_tenant_entries_go_to_the_tenant_ledger_which_is_opened_on_platform(
    any_db: Database,
) -> None:
    fill(any_db, 1)
    t = fill(any_db, 2, tenant="ten_a")
    assert [e.ledger for e in t] == ["tenant:ten_a"] * 2 and t[0].seq == 0
    with snapshot(any_db) as session:
        platform = [entry_from_body(s.body) for s in stored_entries(session, "platform")]
    assert [p.action for p in platform] == ["alias.override", LEDGER_OPEN]
    assert platform[1].target == {"type": "ledger", "id": "tenant:ten_a"}


def test_rollback_leaves_no_entry_and_no_gap(any_db: Database) -> None:
    fill(any_db, 1)
    with pytest.raises(RuntimeError), any_db.begin() as session:
        append(
            session, actor=OPS, action="tenant.suspend", target=("tenant", "ten_b"), tenant="ten_b"
        )
        raise RuntimeError("the change failed after its entry was written")
    again = fill(any_db, 1)
    assert again[0].seq == 1
    with snapshot(any_db) as session:
        assert "tenant:ten_b" not in heads(session)
        assert len(stored_entries(session, "platform")) == 2


def test_invalid_entry_changes_nothing(any_db: Database) -> None:
    with pytest.raises(EntryError), any_db.begin() as session:
        append(
            session,
            actor=OPS,
            action="key.create",
            target=("api_key", "k1"),
            details={"api_key": "sk-live-secret"},
        )
    with snapshot(any_db) as session:
        assert heads(session) == {}


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_entries SET body = :x WHERE seq = 0",
        "UPDATE ledger_entries SET seq = 7 WHERE seq = 1",
        "DELETE FROM ledger_entries WHERE seq = 1",
        "DELETE FROM ledger_entries",
        "DELETE FROM ledger_heads",
        "UPDATE ledger_heads SET size = 1",
    ],
)
def test_database_refuses_rewrites(any_db: Database, sql: str) -> None:
    fill(any_db, 2)
    with pytest.raises(DatabaseError, match="sekisho ledger"):
        raw(any_db, sql, x=b"{}")
    with snapshot(any_db) as session:
        assert len(stored_entries(session, "platform")) == 2


def test_postgres_refuses_truncate(pg_db: Database) -> None:
    fill(pg_db, 2)
    for table in ("ledger_entries", "ledger_checkpoints", "ledger_heads"):
        with pytest.raises(DatabaseError, match="sekisho ledger"):
            raw(pg_db, f"TRUNCATE {table}")
    with snapshot(pg_db) as session:
        assert len(stored_entries(session, "platform")) == 2


def test_constraints_refuse_a_fork_even_without_the_lock(any_db: Database) -> None:
    _, second = fill(any_db, 2)
    # (seq 2 claiming seq 1's predecessor) and (a second seq 1)
    for seq, prev in ((2, second.prev), (1, second.leaf_hash)):
        with pytest.raises(IntegrityError):
            raw(
                any_db,
                "INSERT INTO ledger_entries (ledger, seq, time, body, leaf_hash, prev) "
                "VALUES ('platform', :s, :t, :b, :h, :p)",
                s=seq,
                t=second.time,
                b=b"{}",
                h=bytes(32),
                p=prev,
            )


def test_migration_installs_the_triggers(any_db: Database) -> None:
    with any_db.engine.connect() as conn:
        names = {
            r[0]
            for r in conn.execute(
                text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                    if any_db.is_sqlite
                    else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
                )
            )
        }
    expected = (
        {"ledger_entries_no_update", "ledger_entries_no_delete"}
        if any_db.is_sqlite
        else {"ledger_entries_no_rewrite", "ledger_entries_no_truncate"}
    )
    assert expected <= names
