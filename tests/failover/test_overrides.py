"""Operator overrides through the CLI and the admin API: applied on the live gateway,
refused when they would break Rules 2-3, reverted and expired, each step in the ledger."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from sekisho.actor import Actor
from sekisho.admin.tokens import create_token
from sekisho.control import overrides as override_service
from sekisho.tenancy import service
from tests.failover.conftest import SECRETS, Drill, drill_document
from tests.failover.helpers import chat, log_row, requests_to
from tests.support.cli import last_line, run
from tests.support.ledger import ledger_entries


@pytest.fixture
def config(drill: Drill, tmp_path: Path) -> Path:
    doc = drill_document(drill.sim, tmp_path)
    doc["database_url"] = drill.settings.database_url
    path = tmp_path / "drill.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _cli(config: Path, *args: str) -> str:
    return last_line(run(*args, config=config, env=SECRETS))


def _wait_applied(drill: Drill, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(drill.gw.gateway.routing.overrides) != count:
        assert time.monotonic() < deadline, "override never reached the gateway"
        time.sleep(0.05)


def test_drain_by_cli_applies_within_a_second_and_reverts(drill: Drill, config: Path) -> None:
    override_id = _cli(
        config,
        "alias",
        "override",
        "sov-chat",
        "--drain",
        "jp-alpha",
        "--for",
        "2h",
        "--reason",
        "jp-alpha degraded, INC-7",
    )
    assert override_id.startswith("ovr_")
    started = time.monotonic()
    _wait_applied(drill, 1)
    assert time.monotonic() - started < 1.5
    reply = chat(drill, "sov-chat")
    assert reply.status == 200 and log_row(drill, reply).provider == "jp-beta"
    assert requests_to(drill, "jp-alpha") == 0
    drained = [e for e in log_row(drill, reply).plan["entries"] if e["decision"] == "drained"]
    assert f"drained by override #{override_id}" in drained[0]["reason"]

    show = run("alias", "show", "sov-chat", config=config, env=SECRETS)
    assert show.returncode == 0 and "ACTIVE" in show.stdout and "jp-alpha degraded" in show.stdout

    _cli(config, "alias", "revert", "sov-chat", "--note", "upstream recovered")
    _wait_applied(drill, 0)
    assert log_row(drill, chat(drill, "sov-chat")).provider == "jp-alpha"
    actions = [e["action"] for e in ledger_entries(drill.db) if e["action"].startswith("alias.")]
    assert actions[-2:] == ["alias.override.drain", "alias.override.revert"]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("--pin", "open-gamma"), "does not satisfy"),  # Rule 2
        (("--pin", "cn-delta"), "not a route of"),  # not in the alias at all
        (("--drain", "nowhere"), "not a route of"),
    ],
)
def test_override_that_breaks_the_rules_is_refused(
    drill: Drill, config: Path, args: tuple[str, ...], reason: str
) -> None:
    before = len(ledger_entries(drill.db))
    proc = run(
        "alias",
        "override",
        "sov-chat",
        *args,
        "--for",
        "1h",
        "--reason",
        "x",
        config=config,
        env=SECRETS,
    )
    assert proc.returncode == 1 and reason in proc.stderr, proc.stderr
    assert len(ledger_entries(drill.db)) == before


def test_pin_through_admin_api_with_role_checks(drill: Drill) -> None:
    actor = Actor.system("tests")
    with drill.db.begin() as s:
        op = service.create_user(s, f"op{time.time_ns()}@x.example", "operator", None, actor)
        aud = service.create_user(s, f"aud{time.time_ns()}@x.example", "auditor", None, actor)
        _, op_token = create_token(s, op, actor)
        _, aud_token = create_token(s, aud, actor)
    body = {"kind": "pin", "provider": "jp-beta", "duration_s": 600, "reason": "testing pin"}
    url = drill.url + "/admin/v1/aliases/sov-chat"
    with httpx.Client(timeout=10) as http:
        assert http.post(url + "/overrides", json=body).status_code == 401
        denied = http.post(
            url + "/overrides", json=body, headers={"authorization": f"Bearer {aud_token}"}
        )
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
        bad = http.post(
            url + "/overrides",
            json={**body, "duration_s": 5},
            headers={"authorization": f"Bearer {op_token}"},
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
        made = http.post(
            url + "/overrides", json=body, headers={"authorization": f"Bearer {op_token}"}
        )
        assert made.status_code == 201, made.text
        assert log_row(drill, chat(drill, "sov-chat")).provider == "jp-beta"
        view = http.get(url, headers={"authorization": f"Bearer {aud_token}"}).json()
        assert view["overrides"][0]["kind"] == "pin" and view["overrides"][0]["active"]
        plain = next(p for p in view["plans"] if p["tenant_kind"] == "unconstrained")
        assert plain["order"][0] == "jp-beta/b1"
        reverted = http.post(
            url + "/revert", json={}, headers={"authorization": f"Bearer {op_token}"}
        )
        assert reverted.status_code == 200 and reverted.json()["reverted"] == [made.json()["id"]]
    entry = ledger_entries(drill.db, "alias.override.pin")[-1]
    assert entry["actor"]["email"].startswith("op") and entry["note"] == "testing pin"


def test_expiry_is_recorded_once(drill: Drill) -> None:
    with drill.db.begin() as s:
        row, _ = override_service.set_override(
            s,
            drill.settings.matrix,
            alias="sov-chat",
            kind="drain",
            provider="jp-beta",
            duration=timedelta(minutes=5),
            reason="short",
            actor=Actor.system("tests"),
        )
        oid = row.id
    _wait_applied(drill, 1)
    drill.clock.advance(6 * 60)  # the five minutes pass on the gateway's clock
    _wait_applied(drill, 0)
    for _ in range(3):  # later refreshes record nothing more
        drill.gw.run(drill.gw.gateway.refresh_routing)
    expiries = [
        e
        for e in ledger_entries(drill.db, "alias.override.expire")
        if e["details"]["override_id"] == oid
    ]
    assert len(expiries) == 1
