"""The ledger through the admin API (auditors) and the CLI, over a running gateway."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from sekisho.actor import Actor
from sekisho.admin.tokens import create_token
from sekisho.simulator import SimulatorServer
from sekisho.tenancy import service
from tests.support.databases import sqlite_url
from tests.support.gateway import gateway_settings, make_tenant, migrated, start_gateway


def test_auditor_reads_verifies_and_proves(simulator: SimulatorServer, tmp_path: Path) -> None:
    settings = gateway_settings(
        simulator.url,
        tmp_path,
        sqlite_url(tmp_path),
        ledger={"signing_key_path": str(tmp_path / "k.key"), "checkpoint_interval_s": 0.2},
    )
    db = migrated(settings.database_url)
    tenant_id, _ = make_tenant(db, settings, "acme")
    actor = Actor.system("tests")
    with db.begin() as s:
        auditor = service.create_user(s, "audit@x.example", "auditor", None, actor)
        operator = service.create_user(s, "op@x.example", "operator", None, actor)
        _, audit_token = create_token(s, auditor, actor)
        _, op_token = create_token(s, operator, actor)
    gw = start_gateway(settings, db)
    try:
        with httpx.Client(
            base_url=gw.url + "/admin/v1",
            timeout=10,
            headers={"authorization": f"Bearer {audit_token}"},
        ) as http:
            # The periodic checkpoint task anchors everything within its interval.
            for _ in range(50):
                summary = http.get("ledger").json()
                if summary["ledgers"] and all(x["unanchored"] == 0 for x in summary["ledgers"]):
                    break
                time.sleep(0.1)
            names = [x["name"] for x in summary["ledgers"]]
            assert names[0] == "platform" and f"tenant:{tenant_id}" in names
            assert summary["public_key"].startswith("sekisho.local/ledger+")
            report = http.get("ledger/verify").json()
            assert report["ok"] is True
            entries = http.get(f"ledger/tenant:{tenant_id}/entries").json()["entries"]
            assert [e["body"]["action"] for e in entries] == ["tenant.create", "key.create"]
            assert all("sks_" not in str(e["body"]["details"].get("secret", "")) for e in entries)
            proof = http.get(f"ledger/tenant:{tenant_id}/proof/1")
            assert proof.status_code == 200 and proof.json()["seq"] == 1
            assert http.get(f"ledger/tenant:{tenant_id}/proof/99").status_code == 404
            cps = http.get("ledger/platform/checkpoints").json()["checkpoints"]
            assert cps and "— sekisho.local/ledger" in cps[-1]["note"]
        forbidden = httpx.get(
            gw.url + "/admin/v1/ledger", timeout=10, headers={"authorization": f"Bearer {op_token}"}
        )
        assert forbidden.status_code == 403
    finally:
        gw.stop()
        db.dispose()


@pytest.mark.parametrize("tamper", ["edit", "delete"])
def test_cli_verify_names_the_first_bad_entry(tmp_path: Path, tamper: str) -> None:
    import sqlite3

    from tests.support.cli import last_line, run, write_config

    config = write_config(tmp_path, sqlite_url(tmp_path))
    assert run("migrate", config=config).returncode == 0
    tenant = last_line(run("tenant", "create", "acme", config=config))
    for _ in range(3):
        last_line(run("key", "create", tenant, config=config))
    assert run("ledger", "checkpoint", config=config).returncode == 0
    assert run("ledger", "verify", config=config).returncode == 0
    export = tmp_path / "ledger.jsonl"
    assert last_line(run("ledger", "export", "--out", str(export), config=config)) == str(export)
    con = sqlite3.connect(tmp_path / "sekisho.db")
    con.execute("DROP TRIGGER IF EXISTS ledger_entries_no_update")
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        con.execute(f'DROP TRIGGER "{name}"')
    if tamper == "edit":
        con.execute(
            "UPDATE ledger_entries SET body = replace(body, 'key.create', 'key.cre8e') "
            "WHERE seq = 2 AND ledger LIKE 'tenant:%'"
        )
    else:
        con.execute("DELETE FROM ledger_entries WHERE seq = 2 AND ledger LIKE 'tenant:%'")
    con.commit()
    con.close()
    proc = run("ledger", "verify", config=config)
    assert proc.returncode == 1
    assert "seq 2" in proc.stdout + proc.stderr
    # The export taken before the tampering still verifies offline, with no config at all.
    key = last_line(run("ledger", "public-key", config=config))
    offline = run(
        "ledger", "verify", "--export", str(export), "--public-key", key, env={"SEKISHO_CONFIG": ""}
    )
    assert offline.returncode == 0, offline.stdout + offline.stderr


def test_cli_catches_an_entry_inserted_with_database_access_only(tmp_path: Path) -> None:
    """A well-formed, well-linked row INSERTed (triggers intact) fails verify, online and offline."""
    import sqlite3

    from sekisho.ledger.entry import build_entry, entry_from_body
    from tests.support.cli import last_line, run, write_config

    config = write_config(tmp_path, sqlite_url(tmp_path))
    assert run("migrate", config=config).returncode == 0
    last_line(run("tenant", "create", "acme", config=config))
    assert run("ledger", "checkpoint", config=config).returncode == 0
    con = sqlite3.connect(tmp_path / "sekisho.db")
    size, body = con.execute(
        "SELECT h.size, e.body FROM ledger_heads h JOIN ledger_entries e "
        "ON e.ledger = h.ledger AND e.seq = h.size - 1 WHERE h.ledger = 'platform'"
    ).fetchone()
    last = entry_from_body(bytes(body))
    forged = build_entry(
        ledger="platform", seq=size, time=last.time, prev=last.leaf_hash,
        actor={"type": "user", "id": "usr_x", "email": "admin@sekisho.example", "role": "admin"},
        action="tenant.reinstate", target=("tenant", "ten_x"),
    )  # fmt: skip
    con.execute(
        "INSERT INTO ledger_entries (ledger, seq, time, body, leaf_hash, prev) "
        "VALUES ('platform', ?, ?, ?, ?, ?)",
        (size, forged.time.isoformat(), forged.body, forged.leaf_hash, forged.prev),
    )
    con.execute(
        "UPDATE ledger_heads SET size = ?, last_hash = ? WHERE ledger = 'platform'",
        (size + 1, forged.leaf_hash),
    )
    con.commit()
    con.close()
    online = run("ledger", "verify", config=config)
    assert online.returncode == 1
    assert f"ledger platform, seq {size}: entry carries no signature" in online.stdout
    refused = run("ledger", "checkpoint", config=config)
    assert refused.returncode == 1 and "REFUSED" in refused.stdout
    export = tmp_path / "forged.jsonl"
    exported = run("ledger", "export", "--out", str(export), config=config)
    assert exported.returncode == 1 and "REFUSED final checkpoint" in exported.stdout
    key = last_line(run("ledger", "public-key", config=config))
    offline = run(
        "ledger", "verify", "--export", str(export), "--public-key", key, env={"SEKISHO_CONFIG": ""}
    )
    assert offline.returncode == 1
    assert f"seq {size}: entry carries no signature" in offline.stdout
