"""Tampering an attacker could attempt; each must fail verification online and offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from sekisho.ledger.checkpoint import Checkpoint, ledger_origin, sign_checkpoint
from sekisho.ledger.entry import build_entry, entry_from_body
from sekisho.ledger.merkle import leaf_hash, root
from sekisho.ledger.note import NoteSigner
from sekisho.ledger.offline import verify_export_file
from sekisho.ledger.queries import snapshot, stored_entries
from sekisho.ledger.service import LedgerService
from sekisho.ledger.verify import VerificationReport
from sekisho.store.db import Database

from .helpers import OPS, ORIGIN, SIGNER, drop_guards, fill, raw, resign_export, service

SIZE = 8


@pytest.fixture
def svc(any_db: Database, tmp_path: Path) -> LedgerService:
    """Eight platform entries under a signed, published checkpoint; guards dropped."""
    ledger = service(any_db, tmp_path)
    fill(any_db, SIZE)
    assert ledger.checkpoint()[0].size == SIZE
    assert ledger.verify().ok
    drop_guards(any_db)
    return ledger


def _both(svc: LedgerService, tmp_path: Path, **kw: object) -> list[VerificationReport]:
    online = svc.verify()
    path = svc.export(tmp_path / "tampered.jsonl").path
    offline = verify_export_file(path, public_key=svc.public_key, **kw)  # type: ignore[arg-type]
    return [online, offline]


def _assert_caught(reports: list[VerificationReport], seq: int | None, fragment: str) -> None:
    for report in reports:
        assert not report.ok and report.exit_code == 1
        first = report.first_problem
        assert first is not None
        assert first.seq == seq, str(first)
        assert fragment in first.reason, str(first)


def _bodies(db: Database) -> list[bytes]:
    with snapshot(db) as session:
        return [s.body for s in stored_entries(session, "platform")]


def test_field_edited(svc: LedgerService, any_db: Database, tmp_path: Path) -> None:
    body = _bodies(any_db)[3].replace(b'"note":"drill step 3"', b'"note":"drill step X"')
    raw(any_db, "UPDATE ledger_entries SET body = :b WHERE seq = 3", b=body)
    _assert_caught(_both(svc, tmp_path), 3, "body edited")


def test_field_edited_and_hash_recomputed(
    svc: LedgerService, any_db: Database, tmp_path: Path
) -> None:
    body = _bodies(any_db)[3].replace(b'"step":3', b'"step":30')
    raw(
        any_db,
        "UPDATE ledger_entries SET body = :b, leaf_hash = :h WHERE seq = 3",
        b=body,
        h=leaf_hash(body),
    )
    reports = _both(svc, tmp_path)
    _assert_caught(reports, 3, "entry signature does not verify")
    for report in reports:
        assert any(
            p.seq == 4 and "prev is not the leaf hash of seq 3" in p.reason for p in report.problems
        )
        assert any("history rewritten" in p.reason for p in report.problems)


def test_entry_deleted(svc: LedgerService, any_db: Database, tmp_path: Path) -> None:
    raw(any_db, "DELETE FROM ledger_entries WHERE seq = 3")
    _assert_caught(_both(svc, tmp_path), 3, "expected seq 3, found seq 4")


def test_two_entries_swapped(svc: LedgerService, any_db: Database, tmp_path: Path) -> None:
    raw(any_db, "UPDATE ledger_entries SET seq = 100 WHERE seq = 2")
    raw(any_db, "UPDATE ledger_entries SET seq = 2 WHERE seq = 3")
    raw(any_db, "UPDATE ledger_entries SET seq = 3 WHERE seq = 100")
    _assert_caught(_both(svc, tmp_path), 2, "body says seq 3")


def test_entry_inserted(svc: LedgerService, any_db: Database, tmp_path: Path) -> None:
    # A well-linked forgery needs the UNIQUE (ledger, prev) constraint gone too.
    if any_db.is_sqlite:
        raw(any_db, "CREATE TABLE le2 AS SELECT * FROM ledger_entries")
        raw(any_db, "DROP TABLE ledger_entries")
        raw(any_db, "ALTER TABLE le2 RENAME TO ledger_entries")
    else:
        raw(any_db, "ALTER TABLE ledger_entries DROP CONSTRAINT uq_ledger_entries_ledger_prev")
    fourth = entry_from_body(_bodies(any_db)[4])
    for seq in range(SIZE - 1, 4, -1):
        raw(any_db, "UPDATE ledger_entries SET seq = :n WHERE seq = :o", n=seq + 1, o=seq)
    forged = build_entry(
        ledger="platform",
        seq=5,
        time=fourth.time,
        prev=fourth.leaf_hash,
        actor=OPS,
        action="tenant.reinstate",
        target=("tenant", "ten_x"),
    )
    raw(
        any_db,
        "INSERT INTO ledger_entries (ledger, seq, time, body, leaf_hash, prev) "
        "VALUES ('platform', 5, :t, :b, :h, :p)",
        t=forged.time,
        b=forged.body,
        h=forged.leaf_hash,
        p=forged.prev,
    )
    reports = _both(svc, tmp_path)
    _assert_caught(reports, 5, "entry carries no signature")
    assert all(
        any(p.seq == 6 and "body says seq 5" in p.reason for p in r.problems) for r in reports
    )


def test_tail_truncated(svc: LedgerService, any_db: Database, tmp_path: Path) -> None:
    last = leaf_hash(_bodies(any_db)[5])
    raw(any_db, "DELETE FROM ledger_entries WHERE seq >= 6")
    raw(any_db, "UPDATE ledger_heads SET size = 6, last_hash = :h", h=last)
    _assert_caught(_both(svc, tmp_path), 6, "seq 6..7 missing (tail truncated)")


def test_tail_truncated_and_checkpoints_deleted(
    svc: LedgerService, any_db: Database, tmp_path: Path
) -> None:
    last = leaf_hash(_bodies(any_db)[5])
    raw(any_db, "DELETE FROM ledger_entries WHERE seq >= 6")
    raw(any_db, "UPDATE ledger_heads SET size = 6, last_hash = :h", h=last)
    raw(any_db, "DELETE FROM ledger_checkpoints")
    # The published checkpoint is the anchor now: online uses the publish dir,
    # offline is given it with --against.
    reports = _both(svc, tmp_path, against=[tmp_path / "published"])
    _assert_caught(reports, 6, "seq 6..7 missing (tail truncated)")
    assert verify_export_file(tmp_path / "tampered.jsonl", public_key=svc.public_key).ok


def test_forked_history(svc: LedgerService, any_db: Database, tmp_path: Path) -> None:
    before = svc.export(tmp_path / "before.jsonl").path
    # The attacker owns the server and its key: rewrite from seq 3 and re-sign.
    raw(any_db, "DELETE FROM ledger_entries WHERE seq >= 3")
    raw(any_db, "DELETE FROM ledger_checkpoints")
    raw(any_db, "UPDATE ledger_heads SET size = 3, last_hash = :h", h=leaf_hash(_bodies(any_db)[2]))
    fill(any_db, SIZE - 3, start=100)
    attacker = LedgerService(any_db, SIGNER, origin=ORIGIN)  # publishes nothing
    assert attacker.checkpoint()[0].size == SIZE
    after = attacker.export(tmp_path / "after.jsonl").path
    assert verify_export_file(after, public_key=svc.public_key).ok  # alone it looks fine
    reports = [
        svc.verify(against=[before]),
        verify_export_file(after, public_key=svc.public_key, against=[before]),
        verify_export_file(before, public_key=svc.public_key, against=[after]),
    ]
    for report in reports:
        assert not report.ok
        assert any(p.seq == 3 and "forked" in p.reason for p in report.problems), report.problems
        assert any("history rewritten or forked" in p.reason for p in report.problems)
    # The publish directory alone also exposes it, online and offline.
    assert not svc.verify().ok
    assert not verify_export_file(
        after, public_key=svc.public_key, against=[tmp_path / "published"]
    ).ok


def test_checkpoint_signed_by_another_key(
    svc: LedgerService, any_db: Database, tmp_path: Path
) -> None:
    leaves = [leaf_hash(b) for b in _bodies(any_db)[:5]]
    rogue = NoteSigner.generate(ORIGIN)
    note = sign_checkpoint(Checkpoint(ledger_origin(ORIGIN, "platform"), 5, root(leaves)), rogue)
    raw(
        any_db,
        "INSERT INTO ledger_checkpoints VALUES ('platform', 5, :r, :n, :t)",
        r=root(leaves),
        n=note,
        t="2025-01-01 00:00:00+00:00",
    )
    _assert_caught(
        _both(svc, tmp_path), None, "checkpoint at size 5: note is not signed by a trusted key"
    )


def test_export_resigned_with_another_key_needs_the_pinned_key(
    svc: LedgerService, tmp_path: Path
) -> None:
    path = Path(svc.export(tmp_path / "e.jsonl").path)
    rogue = NoteSigner.generate(ORIGIN)
    resign_export(path, rogue)
    assert verify_export_file(path).ok  # self-consistent, hence --public-key
    pinned = verify_export_file(path, public_key=svc.public_key)
    assert not pinned.ok
    assert pinned.first_problem and "different public key" in pinned.first_problem.reason
    assert any("not signed by a trusted key" in p.reason for p in pinned.problems)
    assert any(p.seq == 0 and "entry signature" in p.reason for p in pinned.problems)


@pytest.mark.parametrize(
    ("mangle", "fragment"),
    [
        (lambda b: b.replace(b"drill step 4", b"drill step 5", 1), "seq 4: stored leaf hash"),
        (lambda b: b.replace(b'"seq":4', b'"seq":"4"', 1), "export line 6: seq has the wrong type"),
        (lambda b: b.replace(b'"type":"entry"', b'"type":"entry"\x00', 1), "not valid JSON"),
        (lambda b: b[: b.rindex(b'{"type":"end"')], "no end line"),
        (lambda b: b.replace(b"\n", b"\n\xff", 1), "not valid UTF-8"),
    ],
)
def test_corrupted_export_line(
    svc: LedgerService, tmp_path: Path, mangle: object, fragment: str
) -> None:
    path = Path(svc.export(tmp_path / "e.jsonl").path)
    path.write_bytes(mangle(path.read_bytes()))  # type: ignore[operator]
    report = verify_export_file(path, public_key=svc.public_key)
    assert not report.ok
    assert any(fragment in str(p) for p in report.problems), report.problems


def test_corrupted_stored_body(svc: LedgerService, any_db: Database, tmp_path: Path) -> None:
    raw(any_db, "UPDATE ledger_entries SET body = :b WHERE seq = 4", b=_bodies(any_db)[4][:-1])
    _assert_caught(_both(svc, tmp_path), 4, "body is not a valid entry")
