"""Bundles from the store (SQLite and PostgreSQL): filters, window, same bytes twice, the ledger
entry that records them; a security suspension snapshots first; the CLI export contract."""

from __future__ import annotations

import hashlib
import io
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import yaml
from sqlalchemy import select

from sekisho.actor import Actor
from sekisho.evidence import (
    EvidenceFilters,
    EvidenceWindow,
    build_bundle,
    ledger_entry_for,
    read_bundle,
    record_bundle,
    verify_bundle,
)
from sekisho.lifecycle import service
from sekisho.settings import Settings
from sekisho.store.db import Database
from sekisho.store.models import EvidenceBundleRecord, RequestLog, TenantSuspension
from sekisho.tenancy.service import TenantSpec, create_tenant
from tests.lifecycle.support import config_document, make_people
from tests.support.cli import run
from tests.support.gateway import gateway_settings
from tests.support.ledger import ledger_entries

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def _seed(db: Database, settings: Settings) -> tuple[str, str]:
    actor = Actor.system("tests")
    with db.begin() as session:
        a = create_tenant(session, settings.matrix, TenantSpec("ev-a"), actor).id
        b = create_tenant(session, settings.matrix, TenantSpec("ev-b"), actor).id
        for i in range(6):
            for tenant, alias in ((a, "chat-large"), (b, "chat-jp")):
                session.add(
                    RequestLog(
                        id=f"req_{tenant}_{i}",
                        ts=T0 + timedelta(minutes=10 * i),
                        tenant_id=tenant,
                        alias=alias,
                        status=200 if i % 2 else 502,
                        provider="atlas-useast",
                        latency_ms=10.0 + i / 3,
                        attempts=[{"n": i}],
                        guardrail={"pii": i == 3},
                    )
                )
    return a, b


@pytest.fixture
def seeded(any_db: Database, tmp_path: Path) -> tuple[Database, Settings, str, str]:
    settings = gateway_settings(
        "http://127.0.0.1:9", tmp_path, str(any_db.url.render_as_string(hide_password=False))
    )
    return (any_db, settings, *_seed(any_db, settings))


def _rows(bundle_bytes: bytes) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in bundle_bytes.splitlines()]


def test_filters_window_and_determinism(seeded: tuple[Database, Settings, str, str]) -> None:
    db, _, a, _ = seeded
    window = EvidenceWindow(T0 + timedelta(minutes=10), T0 + timedelta(minutes=40))
    first = build_bundle(db, EvidenceFilters(tenant_id=a), window)
    second = build_bundle(db, EvidenceFilters(tenant_id=a), window)
    assert first.tar_bytes() == second.tar_bytes()
    rows = _rows(first.files["request_log.jsonl"])
    assert [r["id"] for r in rows] == [f"req_{a}_{i}" for i in (1, 2, 3)]  # [from, to)
    assert rows[0]["ts"] == "2026-02-01T12:10:00.000000Z" and rows[0]["attempts"] == [{"n": 1}]
    by_alias = build_bundle(db, EvidenceFilters(alias="chat-jp"), window)
    assert {r["tenant_id"] for r in _rows(by_alias.files["request_log.jsonl"])} != {a}
    assert verify_bundle(first) == []


def test_recorded_bundle_matches_its_ledger_entry(
    seeded: tuple[Database, Settings, str, str],
) -> None:
    db, _, a, _ = seeded
    bundle = build_bundle(
        db, EvidenceFilters(tenant_id=a), EvidenceWindow(T0, T0 + timedelta(hours=2))
    )
    with db.begin() as session:
        record_bundle(session, bundle, purpose="export", actor=Actor.system("tester", via="cli"))
    with db.read() as session:
        entry = ledger_entry_for(session, bundle.sha256)
    assert entry is not None and entry["action"] == "evidence.export" and entry["tenant"] == a
    assert entry["details"]["bundle_sha256"] == bundle.sha256
    assert entry["details"]["files"] == {f["name"]: f["sha256"] for f in bundle.manifest["files"]}
    assert entry["details"]["records"] == 6


def test_security_suspension_snapshots_evidence_first(
    seeded: tuple[Database, Settings, str, str],
) -> None:
    db, settings, a, _ = seeded
    people = make_people(db)
    settings.lifecycle.evidence_window_s = 10 * 365 * 86400  # reach back to T0
    req = service.LifecycleRequest(
        tenant=a,
        requested_by=people["operator"],
        authorized_by=people["security_owner"],
        note="credential leak",
        via="tests",
    )
    with db.begin() as session:
        result = service.suspend_tenant(session, settings, req, reason="security_event")
    actions = [e["action"] for e in ledger_entries(db) if e["tenant"] == a]
    assert actions[-2:] == ["evidence.suspension_snapshot", "tenant.suspend"]
    snapshot, suspend = [e for e in ledger_entries(db) if e["tenant"] == a][-2:]
    assert suspend["details"]["evidence_sha256"] == result.evidence_sha256
    assert snapshot["details"]["bundle_sha256"] == result.evidence_sha256
    with db.read() as session:
        row = session.scalars(
            select(EvidenceBundleRecord).where(
                EvidenceBundleRecord.sha256 == result.evidence_sha256
            )
        ).one()
        suspension = session.scalars(
            select(TenantSuspension).where(TenantSuspension.tenant_id == a)
        ).one()
    assert suspension.evidence_sha256 == result.evidence_sha256
    assert row.content is not None
    with tarfile.open(fileobj=io.BytesIO(row.content)) as tar:
        manifest, log = tar.extractfile("manifest.json"), tar.extractfile("request_log.jsonl")
        assert manifest is not None and log is not None
        assert hashlib.sha256(manifest.read()).hexdigest() == result.evidence_sha256
        assert len(_rows(log.read())) == 6


def test_cli_export_twice_gives_same_bytes_and_verifies(tmp_path: Path) -> None:
    from tests.support.databases import sqlite_url
    from tests.support.gateway import migrated

    url = sqlite_url(tmp_path)
    db = migrated(url)
    settings = gateway_settings("http://127.0.0.1:9", tmp_path, url)
    _a, _ = _seed(db, settings)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(config_document("http://127.0.0.1:9", tmp_path, url)))
    window = ("--from", "2026-02-01T12:00:00Z", "--to", "2026-02-01T13:00:00+00:00")
    outs = []
    for name in ("one.tar", "two.tar"):
        proc = run(
            "evidence",
            "export",
            "--tenant",
            "ev-a",
            *window,
            "--out",
            str(tmp_path / name),
            config=config,
        )
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout.strip().splitlines()[-1])
    assert outs[0] == outs[1] and len(outs[0]) == 64
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()
    assert read_bundle(tmp_path / "one.tar").sha256 == outs[0]
    exports = [e for e in ledger_entries(db, "evidence.export")]
    assert [e["details"]["bundle_sha256"] for e in exports] == outs
    ok = run("evidence", "verify", str(tmp_path / "one.tar"), config=config)
    assert ok.returncode == 0 and "evidence.export" in ok.stdout, ok.stderr
    bad = run(
        "evidence",
        "export",
        "--tenant",
        "ev-a",
        "--since",
        "1h",
        "--from",
        "x",
        "--out",
        str(tmp_path / "x.tar"),
        config=config,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    db.dispose()
