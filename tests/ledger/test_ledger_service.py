"""Checkpoints, proofs, export and verification against a real database (both backends)."""

from __future__ import annotations

import asyncio
import http.server
import json
import stat
import threading
from pathlib import Path

import pytest

from sekisho.ledger.checkpoint import open_checkpoint
from sekisho.ledger.commands import ledger_checkpoint, ledger_export, ledger_prove, ledger_verify
from sekisho.ledger.keyfile import load_or_create_signing_key
from sekisho.ledger.merkle import ProofError
from sekisho.ledger.note import NoteSigner
from sekisho.ledger.offline import verify_export_file
from sekisho.ledger.proofs import InclusionProof, check_inclusion_proof
from sekisho.ledger.publish import DirectoryPublisher, WebhookPublisher
from sekisho.ledger.service import LedgerService, ProofUnavailable, run_periodic_checkpoints
from sekisho.ledger.signing import attach_entry_signer
from sekisho.store.db import Database

from .helpers import ORIGIN, SIGNER, fill, service


def test_checkpoint_signs_publishes_and_skips_when_unchanged(
    any_db: Database, tmp_path: Path
) -> None:
    svc = service(any_db, tmp_path)
    fill(any_db, 5)
    fill(any_db, 2, tenant="ten_a")
    first = {r.ledger: r for r in svc.checkpoint()}
    assert {n: r.size for n, r in first.items()} == {"platform": 6, "tenant:ten_a": 2}
    assert all(r.created for r in first.values())
    cp = open_checkpoint(first["platform"].note, [SIGNER.verifier]).checkpoint
    assert cp.origin == f"{ORIGIN}/platform" and cp.size == 6
    assert (tmp_path / "published" / "platform" / "latest.checkpoint").read_text() == cp_note(first)
    again = svc.checkpoint()
    assert not any(r.created for r in again)
    fill(any_db, 1)
    assert [r.size for r in svc.checkpoint() if r.created] == [7]


def cp_note(results: dict[str, object]) -> str:
    return results["platform"].note  # type: ignore[attr-defined,no-any-return]


def test_inclusion_and_consistency_proofs(any_db: Database, tmp_path: Path) -> None:
    svc = service(any_db, tmp_path)
    entries = fill(any_db, 9)
    svc.checkpoint()
    fill(any_db, 4, start=9)
    with pytest.raises(ProofUnavailable, match="not anchored"):
        svc.prove(10)
    svc.checkpoint()
    proof = svc.prove(3)
    assert proof.body == entries[3].body and proof.tree_size == 13
    check_inclusion_proof(
        InclusionProof.from_json(json.loads(json.dumps(proof.to_json()))), [SIGNER.verifier], ORIGIN
    )
    with pytest.raises(ProofError):
        check_inclusion_proof(proof, [NoteSigner.generate(ORIGIN).verifier], ORIGIN)
    consistency = svc.prove_consistency("platform", 9, 13)
    consistency.check()


def test_export_and_offline_verify(any_db: Database, tmp_path: Path) -> None:
    svc = service(any_db, tmp_path)
    fill(any_db, 4)
    fill(any_db, 3, tenant="ten_a")
    svc.checkpoint()
    fill(any_db, 2)  # not yet anchored
    assert svc.verify().unanchored == 2
    summary = svc.export(tmp_path / "ledger.jsonl")
    # The export ends with a fresh checkpoint over the two unanchored entries.
    assert summary.entries == 10 and summary.checkpoints == 3 and not summary.refused
    report = verify_export_file(tmp_path / "ledger.jsonl", public_key=svc.public_key)
    assert report.ok, report.problems
    assert report.unanchored == 0 and not report.notices
    unpinned = verify_export_file(tmp_path / "ledger.jsonl")
    assert unpinned.ok and "pin it" in unpinned.notices[0]
    online = svc.verify()  # the export's checkpoint is stored too
    assert online.ok and online.unanchored == 0


def test_export_bodies_are_the_stored_bytes(any_db: Database, tmp_path: Path) -> None:
    svc = service(any_db, tmp_path)
    entries = fill(any_db, 3)
    svc.export(tmp_path / "x.jsonl")
    lines = (tmp_path / "x.jsonl").read_bytes().split(b"\n")
    bodies = [json.loads(line)["body"].encode() for line in lines[1:4]]
    assert bodies == [e.body for e in entries]


def test_tenant_export_is_verifiable_alone(any_db: Database, tmp_path: Path) -> None:
    svc = service(any_db, tmp_path)
    fill(any_db, 2, tenant="ten_a")
    fill(any_db, 2, tenant="ten_b")
    svc.checkpoint()
    svc.export(tmp_path / "a.jsonl", ledgers=["tenant:ten_a"])
    report = verify_export_file(tmp_path / "a.jsonl", public_key=svc.public_key)
    assert report.ok and [s.name for s in report.ledgers] == ["tenant:ten_a"]


def test_from_settings_creates_key_0600(any_db: Database, tmp_path: Path) -> None:
    class LedgerSettings:
        signing_key_path = str(tmp_path / "keys" / "ledger.key")
        origin = ORIGIN
        publish_dir = str(tmp_path / "pub")
        publish_webhook = None

    svc = LedgerService.from_settings(any_db, LedgerSettings)
    assert stat.S_IMODE((tmp_path / "keys" / "ledger.key").stat().st_mode) == 0o600
    assert svc.public_key.startswith(ORIGIN + "+")


def test_periodic_task_signs_and_stops(any_db: Database, tmp_path: Path) -> None:
    svc = service(any_db, tmp_path)
    fill(any_db, 2)

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_periodic_checkpoints(svc, 0.05, stop))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if svc.checkpoints():
                break
        stop.set()
        await asyncio.wait_for(task, 2)

    asyncio.run(run())
    assert [c.size for c in svc.checkpoints()] == [2]


def test_commands(any_db: Database, tmp_path: Path) -> None:
    class Settings:
        database_url = any_db.url.render_as_string(hide_password=False)

        class ledger:
            signing_key_path = str(tmp_path / "cli.key")
            origin = ORIGIN
            publish_dir = None
            publish_webhook = None

    cli_key = load_or_create_signing_key(Settings.ledger.signing_key_path, ORIGIN)
    attach_entry_signer(any_db, cli_key)  # the entries the CLI's gateway would have written
    fill(any_db, 3)
    out = ledger_checkpoint(Settings)
    assert out.exit_code == 0 and "signed at size 3" in out.text
    proof = ledger_prove(Settings, 1)
    assert proof.exit_code == 0 and json.loads(proof.text)["seq"] == 1
    assert ledger_prove(Settings, 5).exit_code == 1
    exported = ledger_export(Settings, str(tmp_path / "e.jsonl"))
    assert exported.text.splitlines()[-1] == str(tmp_path / "e.jsonl")
    assert ledger_verify(Settings).exit_code == 0
    assert ledger_verify(None, export=str(tmp_path / "e.jsonl")).exit_code == 0
    assert ledger_verify(None, export=str(tmp_path / "e.jsonl"), public_key="bad").exit_code == 2
    other = NoteSigner.generate(ORIGIN).verifier.encode()
    failed = ledger_verify(None, export=str(tmp_path / "e.jsonl"), public_key=other)
    assert failed.exit_code == 1 and "FAILED" in failed.text


def test_summaries_and_entries_for_the_console(any_db: Database, tmp_path: Path) -> None:
    svc = service(any_db, tmp_path)
    fill(any_db, 3)
    svc.checkpoint()
    fill(any_db, 2, tenant="ten_a")
    got = {s.name: (s.size, s.anchored_size, s.unanchored) for s in svc.summaries()}
    assert got == {"platform": (4, 3, 1), "tenant:ten_a": (2, 0, 2)}
    page = svc.entries("platform", start=1, limit=2)
    assert [e.seq for e in page] == [1, 2] and page[0].note == "drill step 1"


def test_webhook_and_write_once_directory_publishing(any_db: Database, tmp_path: Path) -> None:
    received: list[dict[str, object]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/checkpoints"
        published = DirectoryPublisher(tmp_path / "pub")
        svc = LedgerService(
            any_db, SIGNER, origin=ORIGIN, publishers=[published, WebhookPublisher(url)]
        )
        fill(any_db, 2)
        result = svc.checkpoint()[0]
        assert len(result.published) == 2 and not result.publish_errors
        assert received == [{"ledger": "platform", "size": 2, "checkpoint": result.note}]
    finally:
        server.shutdown()
    # A different note for a size already published is refused: that would be a fork.
    with pytest.raises(OSError, match="different checkpoint"):
        published.publish("platform", 2, result.note.replace("platform", "other"))
    dead = LedgerService(
        any_db,
        SIGNER,
        origin=ORIGIN,
        publishers=[WebhookPublisher("http://127.0.0.1:9/nowhere", timeout_s=1)],
    )
    fill(any_db, 1)
    assert dead.checkpoint()[0].publish_errors  # counted, not fatal: the DB holds it
