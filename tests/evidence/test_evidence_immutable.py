"""Evidence is never overwritten, and a recorded snapshot can be fetched again.

A bundle whose hash is in the ledger is immutable: the CLI refuses to replace
a file unless --force, a second incident capture gets a new name, and the
security-suspension snapshot comes back (CLI and admin API) byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml
from sqlalchemy import select, text

from sekisho.actor import Actor
from sekisho.admin.tokens import create_token
from sekisho.evidence import read_bundle, verify_bundle
from sekisho.lifecycle import service
from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from sekisho.store.models import EvidenceBundleRecord, RequestLog, User
from sekisho.tenancy.service import TenantSpec, create_tenant
from tests.lifecycle.support import config_document, make_people
from tests.support.cli import last_line, run
from tests.support.databases import sqlite_url
from tests.support.gateway import gateway_settings, migrated, signed_by_gateway_key, start_gateway
from tests.support.ledger import ledger_entries

NOW = datetime.now(UTC).replace(microsecond=0)


def _setup(tmp_path: Path, database_url: str | None = None) -> tuple[Database, Path, str]:
    url = database_url or sqlite_url(tmp_path)
    db = migrated(url)
    settings = gateway_settings("http://127.0.0.1:9", tmp_path, url)
    signed_by_gateway_key(db, settings)
    with db.begin() as session:
        tenant = create_tenant(session, settings.matrix, TenantSpec("ev-acme"), Actor.system("t"))
        for i in range(4):
            session.add(
                RequestLog(
                    id=f"req_imm_{i}",
                    ts=NOW - timedelta(minutes=5 * i + 1),
                    tenant_id=tenant.id,
                    alias="chat-large",
                    status=502 if i % 2 else 200,
                    latency_ms=12.0,
                    attempts=[],
                )
            )
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(config_document("http://127.0.0.1:9", tmp_path, url)))
    return db, config, tenant.id


def test_export_refuses_to_replace_a_file_unless_forced(tmp_path: Path) -> None:
    db, config, _ = _setup(tmp_path)
    out = tmp_path / "acme.tar"
    out.write_bytes(b"an earlier bundle, recorded elsewhere")
    args = ("evidence", "export", "--tenant", "ev-acme", "--since", "1h", "--out", str(out))
    refused = run(*args, config=config)
    assert refused.returncode == 2, refused.stdout
    assert "never overwritten" in refused.stderr and "--force" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert out.read_bytes() == b"an earlier bundle, recorded elsewhere"
    assert ledger_entries(db, "evidence.export") == []  # refused before anything was recorded

    forced = run(*args, "--force", config=config)
    assert forced.returncode == 0, forced.stderr
    assert read_bundle(out).sha256 == forced.stdout.strip().splitlines()[-1]
    assert len(ledger_entries(db, "evidence.export")) == 1
    db.dispose()


def _bundle_lines(stdout: str) -> list[str]:
    """What `incident evidence` printed, without the `acting as ...` line every act starts with."""
    return [line for line in stdout.strip().splitlines() if not line.startswith("acting as ")]


def test_incident_evidence_never_rewrites_a_recorded_bundle(tmp_path: Path) -> None:
    db, config, _ = _setup(tmp_path)
    opened = run(
        "incident",
        "open",
        "--title",
        "chat-large degraded",
        "--severity",
        "SEV2",
        "--alias",
        "chat-large",
        config=config,
    )
    inc = last_line(opened)
    first = run("incident", "evidence", inc, config=config)
    assert first.returncode == 0, first.stderr
    [line1] = _bundle_lines(first.stdout)  # one line per bundle
    assert line1.startswith("evidence evb_") and " chat-large: sha256 " in line1
    path1 = Path(line1.split()[-1])
    sha1 = line1.split("sha256 ")[1].split()[0]
    before = path1.read_bytes()

    second = run("incident", "evidence", inc, config=config)
    assert second.returncode == 0, second.stderr
    [line2] = _bundle_lines(second.stdout)
    path2 = Path(line2.split()[-1])
    assert path2 != path1 and path1.read_bytes() == before  # the first is untouched
    assert read_bundle(path1).sha256 == sha1
    recorded = {e["details"]["bundle_sha256"] for e in ledger_entries(db, "evidence.incident")}
    assert recorded == {sha1, read_bundle(path2).sha256}

    shown = run("incident", "show", inc, config=config)
    assert shown.returncode == 0, shown.stderr
    assert "evidence: 2 bundle(s)" in shown.stdout and sha1 in shown.stdout
    assert "impact (5xx/429 error rate, so far):" in shown.stdout
    db.dispose()


def _suspend_for_security(db: Database, tmp_path: Path, tenant: str) -> str:
    settings = gateway_settings("http://127.0.0.1:9", tmp_path, sqlite_url(tmp_path))
    people = make_people(db)
    req = service.LifecycleRequest(
        tenant=tenant,
        requested_by=people["operator"],
        authorized_by=people["security_owner"],
        note="credential leak",
        via="tests",
    )
    with db.begin() as session:
        result = service.suspend_tenant(session, settings, req, reason="security_event")
    assert result.evidence_sha256
    return result.evidence_sha256


def _bundle_id(db: Database, sha: str) -> str:
    with db.read() as session:
        return session.scalars(
            select(EvidenceBundleRecord.id).where(EvidenceBundleRecord.sha256 == sha)
        ).one()


def test_cli_fetches_the_security_snapshot(tmp_path: Path) -> None:
    db, config, tenant = _setup(tmp_path)
    sha = _suspend_for_security(db, tmp_path, tenant)
    bundle_id = _bundle_id(db, sha)

    listed = run("evidence", "list", "--tenant", "ev-acme", config=config)
    assert listed.returncode == 0 and bundle_id in listed.stdout
    assert "suspension_snapshot" in listed.stdout and "fetchable" in listed.stdout

    out = tmp_path / "snap.tar"
    got = run("evidence", "get", bundle_id, "--out", str(out), config=config)
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip().splitlines()[-1] == sha
    bundle = read_bundle(out)
    assert bundle.sha256 == sha and verify_bundle(bundle) == []
    assert bundle.files["request_log.jsonl"].count(b"\n") == 4
    ok = run("evidence", "verify", str(out), config=config)
    assert ok.returncode == 0 and "evidence.suspension_snapshot" in ok.stdout, ok.stderr

    out.write_bytes(b"something else")
    again = run("evidence", "get", bundle_id, "--out", str(out), config=config)
    assert again.returncode == 2 and "never overwritten" in again.stderr
    assert out.read_bytes() == b"something else"
    missing = run("evidence", "get", "evb_nope", "--out", str(tmp_path / "x"), config=config)
    assert missing.returncode == 1 and "no evidence bundle" in missing.stderr
    db.dispose()


def test_tampered_stored_snapshot_is_refused(tmp_path: Path) -> None:
    db, config, tenant = _setup(tmp_path)
    bundle_id = _bundle_id(db, _suspend_for_security(db, tmp_path, tenant))
    with db.read() as session:
        content = session.get(EvidenceBundleRecord, bundle_id).content  # type: ignore[union-attr]
    assert content is not None
    buf = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(content)) as src,
        tarfile.open(fileobj=buf, mode="w") as dst,
    ):
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json":
                data = data.replace(b'"records": 4', b'"records": 3')
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE evidence_bundles SET content = :c WHERE id = :i"),
            {"c": buf.getvalue(), "i": bundle_id},
        )
    got = run("evidence", "get", bundle_id, "--out", str(tmp_path / "s.tar"), config=config)
    assert got.returncode == 1 and "do not match the recorded SHA-256" in got.stderr
    assert not (tmp_path / "s.tar").exists()
    db.dispose()


def test_admin_api_serves_the_snapshot_to_auditors_and_operators(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path)
    db, _, tenant = _setup(tmp_path, url)
    sha = _suspend_for_security(db, tmp_path, tenant)
    bundle_id = _bundle_id(db, sha)
    tokens = {}
    with db.begin() as session:
        for role in ("auditor", "operator", "billing_owner"):
            user = session.scalars(select(User).where(User.role == role)).first()
            assert user is not None
            _, tokens[role] = create_token(session, user, Actor.system("tests"))
    settings = gateway_settings(simulator.url, tmp_path, url)
    gw = start_gateway(settings, db)
    try:
        for role in ("auditor", "operator"):
            headers = {"authorization": f"Bearer {tokens[role]}"}
            listed = httpx.get(f"{gw.url}/admin/v1/evidence", headers=headers, timeout=10)
            assert listed.status_code == 200
            [row] = [b for b in listed.json()["bundles"] if b["id"] == bundle_id]
            assert row["sha256"] == sha and row["purpose"] == "suspension_snapshot"
            assert row["fetchable"] is True and row["records"] == 4
            got = httpx.get(f"{gw.url}/admin/v1/evidence/{bundle_id}", headers=headers, timeout=10)
            assert got.status_code == 200 and got.headers["x-sekisho-bundle-sha256"] == sha
            assert got.headers["content-type"] == "application/x-tar"
            with tarfile.open(fileobj=io.BytesIO(got.content)) as tar:
                manifest = tar.extractfile("manifest.json")
                assert manifest is not None
                assert hashlib.sha256(manifest.read()).hexdigest() == sha
        billing = {"authorization": f"Bearer {tokens['billing_owner']}"}
        denied = httpx.get(f"{gw.url}/admin/v1/evidence/{bundle_id}", headers=billing, timeout=10)
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
        anonymous = httpx.get(f"{gw.url}/admin/v1/evidence", timeout=10)
        assert anonymous.status_code == 401
        auditor = {"authorization": f"Bearer {tokens['auditor']}"}
        missing = httpx.get(f"{gw.url}/admin/v1/evidence/evb_nope", headers=auditor, timeout=10)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    finally:
        gw.stop()
        db.dispose()
