"""Shared helpers for ledger store tests: filling a ledger, tampering like an attacker."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import text

from sekisho.ledger.append import append
from sekisho.ledger.checkpoint import Checkpoint, ledger_origin, sign_checkpoint
from sekisho.ledger.entry import LedgerEntry
from sekisho.ledger.export import ExportSeal
from sekisho.ledger.note import NoteSigner, open_note, sign_note
from sekisho.ledger.publish import DirectoryPublisher
from sekisho.ledger.service import LedgerService
from sekisho.ledger.signing import SESSION_KEY, attach_entry_signer, sign_leaf
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


def signed(db: Database, signer: NoteSigner = SIGNER) -> Database:
    """The database handle as the gateway holds it: appends are signed with the ledger key."""
    if SESSION_KEY not in db.session_info:
        attach_entry_signer(db, signer)
    return db


def fill(db: Database, n: int, *, tenant: str | None = None, start: int = 0) -> list[LedgerEntry]:
    """Append n entries (signed like the gateway's), one transaction each."""
    signed(db)
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


def resign_export(
    path: Path, signer: NoteSigner, drop: Callable[[dict[str, Any]], bool] = lambda _: False
) -> None:
    """What someone holding ``signer`` does to an export: drop lines, re-sign all of it."""
    out: list[str] = []
    for line in path.read_text().splitlines():
        obj = json.loads(line)
        if drop(obj):
            continue
        if obj["type"] == "header":
            obj["public_key"] = signer.verifier.encode()
        elif obj["type"] == "entry" and obj["sig"]:
            leaf = bytes.fromhex(obj["leaf_hash"])
            obj["sig"] = base64.b64encode(sign_leaf(signer, leaf)).decode()
        elif obj["type"] == "checkpoint":
            cp = Checkpoint(
                ledger_origin(ORIGIN, obj["ledger"]), obj["size"], bytes.fromhex(obj["root"])
            )
            obj["note"] = sign_checkpoint(cp, signer)
        elif obj["type"] == "end":
            before = "".join(line + "\n" for line in out).encode()
            seal = ExportSeal.parse(open_note(obj["seal"], [SIGNER.verifier, signer.verifier]).text)
            seal = replace(seal, sha256=hashlib.sha256(before).hexdigest())
            obj["seal"] = sign_note(seal.text(), [signer])
            obj["entries"] = sum(1 for o in map(json.loads, out) if o["type"] == "entry")
            obj["checkpoints"] = sum(1 for o in map(json.loads, out) if o["type"] == "checkpoint")
        out.append(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
    path.write_text("".join(line + "\n" for line in out))
