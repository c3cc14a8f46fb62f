"""Audit ledger benchmark: append throughput (SQLite, PostgreSQL) and verification of 100k entries.

    .venv/bin/python bench/ledger_bench.py [--appends N] [--entries N] [--pg URL] [--no-pg]

Appends run one per transaction, as a control-plane change does. The
100,000-entry ledger for verification is built in memory and bulk-inserted
(the append path is measured separately). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from sekisho.ledger.append import append
from sekisho.ledger.entry import ZERO_HASH, StoredEntry, build_entry
from sekisho.ledger.note import NoteSigner
from sekisho.ledger.offline import verify_export_file
from sekisho.ledger.service import LedgerService
from sekisho.ledger.tables import ENTRIES, HEADS
from sekisho.ledger.verify import LedgerData, verify_ledgers
from sekisho.store.db import Database
from sekisho.store.migrate import migrate

ORIGIN = "bench.sekisho/ledger"
ACTOR = {"type": "user", "id": "usr_bench", "email": "bench@example.com", "role": "operator"}
DEFAULT_PG = os.environ.get("SEKISHO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    url = make_url(admin_url).set(drivername="postgresql+psycopg")
    name = f"sekisho_bench_{secrets.token_hex(4)}"
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def append_rate(db: Database, n: int, threads: int = 1) -> float:
    """Appends per second, each in its own transaction, from ``threads`` threads."""

    def work(who: str, count: int) -> None:
        for i in range(count):
            with db.begin() as session:
                append(
                    session,
                    actor=ACTOR,
                    action="alias.override",
                    target=("alias", "chat-jp"),
                    note="bench",
                    details={"worker": who, "i": i},
                )

    per = n // threads
    workers = [threading.Thread(target=work, args=(f"t{t}", per)) for t in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return per * threads / (time.perf_counter() - start)


def synthetic_entries(n: int) -> list[StoredEntry]:
    out, prev = [], ZERO_HASH
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    for seq in range(n):
        e = build_entry(
            ledger="platform",
            seq=seq,
            time=t0 + timedelta(seconds=seq),
            prev=prev,
            actor=ACTOR,
            action="alias.override",
            target=("alias", "chat-jp"),
            note="bench",
            details={"i": seq},
        )
        out.append(StoredEntry(seq, e.body, e.leaf_hash, e.prev))
        prev = e.leaf_hash
    return out


def bulk_load(db: Database, entries: list[StoredEntry]) -> None:
    rows = [
        {
            "ledger": "platform",
            "seq": s.seq,
            "time": datetime.now(UTC),
            "body": s.body,
            "leaf_hash": s.leaf_hash,
            "prev": s.prev,
        }
        for s in entries
    ]
    with db.begin() as session:
        for i in range(0, len(rows), 5000):
            session.execute(insert(ENTRIES), rows[i : i + 5000])
        session.execute(
            insert(HEADS).values(
                ledger="platform", size=len(entries), last_hash=entries[-1].leaf_hash
            )
        )


def verify_suite(db: Database, entries: list[StoredEntry], workdir: Path) -> dict[str, float]:
    signer = NoteSigner.generate(ORIGIN)
    svc = LedgerService(db, signer, origin=ORIGIN)
    bulk_load(db, entries)
    times = {"first checkpoint (checks every entry, signs)": timed(svc.checkpoint)}
    times["verify online (DB: chain, tree, signatures)"] = timed(lambda: _ok(svc.verify()))
    export = workdir / f"export-{db.url.get_backend_name()}.jsonl"
    times["export to JSONL"] = timed(lambda: svc.export(export))
    times["verify offline (export file)"] = timed(
        lambda: _ok(verify_export_file(export, public_key=svc.public_key))
    )
    times["inclusion proof (build tree + path)"] = timed(lambda: svc.prove(len(entries) // 2))
    append_rate(db, 1000)
    times["next checkpoint after +1,000 appends"] = timed(svc.checkpoint)
    return times


def _ok(report: object) -> None:
    assert getattr(report, "ok", False), getattr(report, "problems", report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--pg", default=DEFAULT_PG)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()

    entries = synthetic_entries(args.entries)
    pure = timed(
        lambda: _ok(verify_ledgers([LedgerData("platform", entries)], verifiers=[], origin=ORIGIN))
    )
    rows: list[tuple[str, str, str]] = [
        ("pure verify (chain + tree, in memory)", f"{args.entries:,} entries", f"{pure:.2f} s")
    ]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        backends: list[tuple[str, Callable[[], object]]] = [
            ("SQLite", lambda: _sqlite(work)),
        ]
        if not args.no_pg:
            backends.append(("PostgreSQL", lambda: postgres_database(args.pg)))
        for label, opener in backends:
            with opener() as url:  # type: ignore[attr-defined]
                db = Database(url)
                migrate(db)
                rate = append_rate(db, args.appends)
                rows.append(
                    (
                        f"{label}: append, 1 per transaction",
                        f"{args.appends:,} appends",
                        f"{rate:,.0f} /s",
                    )
                )
                rate4 = append_rate(db, args.appends, threads=4)
                rows.append(
                    (
                        f"{label}: append, 4 threads contending",
                        f"{args.appends:,} appends",
                        f"{rate4:,.0f} /s",
                    )
                )
                db.dispose()
            with opener() as url:  # type: ignore[attr-defined]
                db = Database(url)
                migrate(db)
                for what, seconds in verify_suite(db, entries, work).items():
                    rows.append(
                        (f"{label}: {what}", f"{args.entries:,} entries", f"{seconds:.2f} s")
                    )
                db.dispose()
    print("| measurement | size | result |\n|---|---|---|")
    for row in rows:
        print(f"| {row[0]} | {row[1]} | {row[2]} |")


@contextmanager
def _sqlite(work: Path) -> Iterator[str]:
    path = work / f"bench-{secrets.token_hex(3)}.db"
    yield f"sqlite:///{path}"


if __name__ == "__main__":
    main()
