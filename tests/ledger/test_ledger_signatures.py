"""Entries carry the gateway's signature: what database access alone can do is caught.

The attacker here has an ordinary database login (the append-only triggers
stay in place, INSERT is allowed) but not the ledger key file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sekisho.ledger.append import append
from sekisho.ledger.checkpoint import Checkpoint, ledger_origin, sign_checkpoint
from sekisho.ledger.entry import build_entry, entry_from_body
from sekisho.ledger.merkle import root
from sekisho.ledger.note import NoteSigner
from sekisho.ledger.offline import verify_export_file
from sekisho.ledger.queries import heads, snapshot, stored_entries
from sekisho.ledger.service import LedgerService
from sekisho.ledger.signing import attach_entry_signer
from sekisho.store.db import Database

from .helpers import OPS, ORIGIN, SIGNER, fill, raw, resign_export, service


def _forge_at_end(db: Database, ledger: str = "platform") -> int:
    """INSERT a well-formed, well-linked entry and move the head, as a DB user could."""
    with snapshot(db) as session:
        last = entry_from_body(stored_entries(session, ledger)[-1].body)
        size = heads(session)[ledger].size
    forged = build_entry(
        ledger=ledger,
        seq=size,
        time=last.time,
        prev=last.leaf_hash,
        actor=OPS,
        action="tenant.reinstate",
        target=("tenant", "ten_victim"),
        tenant=last.tenant,
        note="looks routine",
    )
    raw(
        db,
        "INSERT INTO ledger_entries (ledger, seq, time, body, leaf_hash, prev) "
        "VALUES (:l, :s, :t, :b, :h, :p)",
        l=ledger,
        s=size,
        t=forged.time,
        b=forged.body,
        h=forged.leaf_hash,
        p=forged.prev,
    )
    raw(
        db,
        "UPDATE ledger_heads SET size = :n, last_hash = :h WHERE ledger = :l",
        n=size + 1,
        h=forged.leaf_hash,
        l=ledger,
    )
    return size


def test_entries_are_signed_by_the_ledger_key(any_db: Database, tmp_path: Path) -> None:
    svc = service(any_db, tmp_path)
    fill(any_db, 3)
    with snapshot(any_db) as session:
        stored = stored_entries(session, "platform")
    assert all(s.sig is not None and len(s.sig) == 64 for s in stored)
    assert svc.verify().ok


def test_forged_insert_fails_online_and_offline_naming_its_seq(
    any_db: Database, tmp_path: Path
) -> None:
    svc = service(any_db, tmp_path)
    fill(any_db, 4)
    svc.checkpoint()
    seq = _forge_at_end(any_db)
    online = svc.verify()
    assert not online.ok and online.first_problem is not None
    assert online.first_problem.seq == seq
    assert "written without the gateway's key" in online.first_problem.reason

    # The checkpointer refuses to anchor it (and so does the export's final checkpoint).
    [result] = svc.checkpoint()
    assert not result.created and result.refused and f"seq {seq}" in result.refused
    summary = svc.export(tmp_path / "e.jsonl")
    assert summary.refused and f"seq {seq}" in summary.refused[0]
    assert [cp.size for cp in svc.checkpoints("platform")] == [4]

    offline = verify_export_file(tmp_path / "e.jsonl", public_key=svc.public_key)
    assert not offline.ok and offline.first_problem is not None
    assert offline.first_problem.seq == seq
    assert "written without the gateway's key" in offline.first_problem.reason
    # Without the database and without pinning, the key in the export still catches it.
    assert not verify_export_file(tmp_path / "e.jsonl").ok


def test_entry_signed_with_another_key_is_refused(any_db: Database, tmp_path: Path) -> None:
    svc = service(any_db, tmp_path)
    other = Database(any_db.url.render_as_string(hide_password=False))
    try:
        attach_entry_signer(other, NoteSigner.generate(ORIGIN))  # a handle with some other key
        with other.begin() as session:
            append(session, actor=OPS, action="tenant.reinstate", target=("tenant", "ten_v"))
    finally:
        other.dispose()
    report = svc.verify()
    assert report.first_problem is not None and report.first_problem.seq == 0
    assert "does not verify with the ledger key" in report.first_problem.reason
    assert svc.checkpoint()[0].refused


def test_forged_entry_in_a_tenant_ledger(any_db: Database, tmp_path: Path) -> None:
    svc = service(any_db, tmp_path)
    fill(any_db, 2, tenant="ten_a")
    seq = _forge_at_end(any_db, "tenant:ten_a")
    problem = svc.verify().first_problem
    assert problem is not None and (problem.ledger, problem.seq) == ("tenant:ten_a", seq)


def test_export_ends_with_a_checkpoint_over_every_entry(any_db: Database, tmp_path: Path) -> None:
    svc = service(any_db, tmp_path)
    fill(any_db, 3)
    svc.checkpoint()
    fill(any_db, 1)  # e.g. the suspension recorded just before the export
    svc.export(tmp_path / "e.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    last_cp = [o for o in lines if o["type"] == "checkpoint"][-1]
    assert last_cp["size"] == 4
    assert lines[-1]["type"] == "end" and "sekisho-ledger-export-seal" in lines[-1]["seal"]
    assert verify_export_file(tmp_path / "e.jsonl", public_key=svc.public_key).ok


def _drop_last_entry(path: Path, *, with_checkpoint: bool = False) -> None:
    lines = path.read_text().splitlines()
    objs = [json.loads(line) for line in lines]
    last_entry = max(i for i, o in enumerate(objs) if o["type"] == "entry")
    drop = {last_entry}
    if with_checkpoint:
        drop.add(max(i for i, o in enumerate(objs) if o["type"] == "checkpoint"))
    kept = [line for i, line in enumerate(lines) if i not in drop]
    end = json.loads(kept[-1])
    end["entries"] -= 1
    end["checkpoints"] -= len(drop) - 1
    kept[-1] = json.dumps(end, ensure_ascii=False, separators=(",", ":"))
    path.write_text("\n".join(kept) + "\n")


@pytest.mark.parametrize("with_checkpoint", [False, True])
def test_deleting_the_last_entry_from_an_export_is_caught(
    any_db: Database, tmp_path: Path, with_checkpoint: bool
) -> None:
    svc = service(any_db, tmp_path)
    fill(any_db, 3)
    svc.checkpoint()
    fill(any_db, 1)  # the entry right after a suspension, not yet checkpointed
    path = Path(svc.export(tmp_path / "e.jsonl").path)
    _drop_last_entry(path, with_checkpoint=with_checkpoint)
    for report in (verify_export_file(path, public_key=svc.public_key), verify_export_file(path)):
        assert not report.ok
        assert any(p.seq == 3 for p in report.problems), report.problems
        assert any("seal" in p.reason for p in report.problems), report.problems


def test_deleting_and_resigning_needs_the_real_key(any_db: Database, tmp_path: Path) -> None:
    svc = service(any_db, tmp_path)
    fill(any_db, 4)
    path = Path(svc.export(tmp_path / "e.jsonl").path)
    _drop_last_entry(path, with_checkpoint=True)
    resign_export(path, NoteSigner.generate(ORIGIN))
    pinned = verify_export_file(path, public_key=svc.public_key)
    assert not pinned.ok and "different public key" in str(pinned.first_problem)


def test_legacy_unsigned_entries_are_accepted_only_under_a_checkpoint(
    any_db: Database, tmp_path: Path
) -> None:
    # Written before entry signatures existed: no signer attached, then checkpointed
    # by the old checkpointer (which signed whatever chained).
    for i in range(3):
        with any_db.begin() as session:
            append(session, actor=OPS, action="alias.override", target=("alias", f"c{i}"))
    with snapshot(any_db) as session:
        leaves = [s.leaf_hash or b"" for s in stored_entries(session, "platform")]
    note = sign_checkpoint(Checkpoint(ledger_origin(ORIGIN, "platform"), 3, root(leaves)), SIGNER)
    raw(
        any_db,
        "INSERT INTO ledger_checkpoints VALUES ('platform', 3, :r, :n, :t)",
        r=root(leaves),
        n=note,
        t="2025-01-01 00:00:00+00:00",
    )
    svc: LedgerService = service(any_db, tmp_path)
    report = svc.verify()
    assert report.ok and "3 entries predate entry signatures" in report.notices[0]
    fill(any_db, 1)  # signed, after the upgrade
    assert svc.verify().ok
    assert svc.checkpoint()[0].created
    with any_db.begin() as session:  # an unsigned entry after the upgrade is not
        session.info.clear()
        append(session, actor=OPS, action="alias.override", target=("alias", "late"))
    problem = svc.verify().first_problem
    assert problem is not None and problem.seq == 4
