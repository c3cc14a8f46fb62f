"""What an operator reads at 3 a.m. (issue 17 item 3): triage names its window and the
override behind a verdict, a resolved alert shows the figures at resolution, refusals of a
suspended tenant show in report, series and /metrics, and the notification outbox can be read."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from sekisho.actor import Actor
from sekisho.admin.tokens import create_token
from sekisho.notify.outbox import enqueue
from sekisho.observe import alerts, triage
from sekisho.observe.probes import ProbeSummary
from sekisho.observe.rollup import Cell, bucket_start
from sekisho.observe.rollup_store import write_deltas
from sekisho.observe.series import Totals
from sekisho.observe.spike import SpikeRule
from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from sekisho.store.models import AliasOverride, Notification
from sekisho.tenancy import service
from tests.support.cli import last_line, run, write_config
from tests.support.databases import sqlite_url
from tests.support.gateway import gateway_settings, make_tenant, migrated, start_gateway


def _probe(kind: str, target: str) -> ProbeSummary:
    return ProbeSummary(kind, target, 0, 0, None, None, None, None)


def test_triage_names_an_override_that_explains_a_gateway_verdict() -> None:
    now = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    pin = triage.ActiveOverride("ovr_1", "pin", "hoshi-osaka", now + timedelta(minutes=20))
    failing = Totals()
    failing.cell.count_status(502, "upstream_unavailable", 8)
    failing.cell.count_status(200, None, 2)
    healthy = triage.ProviderEvidence("kumo-tokyo", _probe("provider", "kumo-tokyo"), 10, 0, {})
    t = triage.TriageInput(
        "chat-jp", 300, [healthy], _probe("alias", "chat-jp"), failing, [], 0,
        now - timedelta(minutes=5), now, (pin,),
    )  # fmt: skip
    answer, reasons = triage.verdict(t)
    assert answer == "gateway"
    assert reasons[0].startswith("active override ovr_1: pin to hoshi-osaka")
    assert "may explain the failures" in reasons[0] and "until 10:50 UTC" in reasons[0]
    assert "sekisho alias revert chat-jp" in reasons[0]


def test_triage_cli_says_which_window_it_judged(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    db = migrated(url)
    config = write_config(tmp_path, url)
    now = datetime.now(UTC)
    with db.begin() as s:
        s.add(
            AliasOverride(
                id="ovr_test1", alias="chat-large", kind="drain", provider="atlas-useast",
                reason="drill", created_by="ops@example.test", created_at=now,
                expires_at=now + timedelta(minutes=30),
            )
        )  # fmt: skip
    out = run("triage", "chat-large", config=config)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    # The default window is the spike alert's (observe.alert_window_s, 300 s), not 15 minutes.
    assert "judged over the last 5 min:" in text and " UTC" in text.splitlines()[1]
    assert "active override ovr_test1: drain of atlas-useast" in text
    doc = json.loads(run("triage", "chat-large", "--json", config=config).stdout)
    assert doc["window_s"] == 300 and doc["overrides"][0]["id"] == "ovr_test1"
    assert doc["window"]["from"] < doc["window"]["to"]
    one_hour = run("triage", "chat-large", "--window", "1h", config=config).stdout
    assert "judged over the last 1 h:" in one_hour
    db.dispose()


def _cells(ts: datetime, alias: str, ok: int, errors: int) -> dict:  # type: ignore[type-arg]
    cell = Cell()
    cell.count_status(200, None, ok)
    cell.count_status(502, "upstream_unavailable", errors)
    return {(bucket_start(ts, 10), "alias", alias): cell}


def test_a_resolved_alert_shows_the_figures_at_resolution(any_db: Database, tmp_path: Path) -> None:
    rule = SpikeRule(window_s=60, baseline_s=600, min_requests=10)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    write_deltas(any_db, "r1", _cells(t0, "chat-large", 10, 10))
    [fired] = alerts.evaluate(any_db, rule, ["chat-large"], now=t0 + timedelta(seconds=5))
    assert fired.state == "firing"
    t1 = t0 + timedelta(minutes=3)
    write_deltas(any_db, "r1", _cells(t1, "chat-large", 30, 0))
    [resolved] = alerts.evaluate(any_db, rule, ["chat-large"], now=t1 + timedelta(seconds=5))
    assert resolved.state == "resolved"
    with any_db.read() as s:
        [doc] = alerts.list_alerts(s, include_resolved=True)
    assert doc["at_firing"] == {
        "window_s": 60, "requests": 20, "errors": 10, "rate": 0.5, "baseline_rate": None,
    }  # fmt: skip
    assert doc["at_resolution"]["requests"] == 30 and doc["at_resolution"]["rate"] == 0.0

    url = any_db.url.render_as_string(hide_password=False)
    out = run("alerts", "--all", config=write_config(tmp_path, url))
    assert out.returncode == 0, out.stderr
    [line] = out.stdout.strip().splitlines()
    assert re.search(r"fired \d+ min ago \(\d\d:\d\d UTC\) at 50\.0% of 20 requests", line), line
    assert re.search(r"resolved \d+ min ago \(\d\d:\d\d UTC\) at 0\.0% of 30 requests", line), line


def test_refusals_of_a_suspended_tenant_are_counted(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path)
    settings = gateway_settings(
        simulator.url, tmp_path, url, observe={"rollup_flush_s": 0.2, "probes_enabled": False}
    )
    db = migrated(url)
    tenant_id, key = make_tenant(db, settings, "gone-co")
    with db.begin() as s:
        s.execute(
            service.Tenant.__table__.update()  # type: ignore[attr-defined]
            .where(service.Tenant.id == tenant_id)
            .values(state="suspended")
        )
    gw = start_gateway(settings, db)
    try:
        with httpx.Client(base_url=gw.url, timeout=10) as http:
            for _ in range(3):
                r = http.post(
                    "/v1/chat/completions",
                    headers={"authorization": f"Bearer {key}"},
                    json={"model": "chat-large", "messages": [{"role": "user", "content": "x"}]},
                )
                assert r.status_code == 403 and r.json()["error"]["code"] == "tenant_suspended"
            metrics = http.get("/metrics").text
        assert 'sekisho_refused_requests_total{code="tenant_suspended"} 3' in metrics
        config = write_config(tmp_path, url, simulator.url)
        deadline = time.monotonic() + 20
        while True:
            out = run("report", "--tenant", "gone-co", "--since", "10m", config=config)
            assert out.returncode == 0, out.stderr
            if "tenant_suspended 3" in out.stdout or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert "refused by the gateway (no upstream called): tenant_suspended 3" in out.stdout
        doc = json.loads(
            run("report", "--tenant", tenant_id, "--since", "10m", "--json", config=config).stdout
        )
        assert doc["totals"]["refused"] == {"tenant_suspended": 3}
        assert doc["totals"]["4xx"] == 3
    finally:
        gw.stop()
        db.dispose()


def _outbox(db: Database, tenant_id: str, other_id: str) -> None:
    with db.begin() as s:
        for n, (tenant, dest) in enumerate(
            [(tenant_id, "owner@acme.example"), (tenant_id, "https://hooks.example/t/SECRET?x=1"),
             (tenant_id, "cs@acme.example"), (other_id, "owner@other.example")]
        ):  # fmt: skip
            enqueue(
                s,
                channel="webhook" if dest.startswith("https") else "email",
                destination=dest,
                event="tenant.suspended",
                subject=f"Tenant suspended ({n})",
                payload={"tenant": tenant},
                tenant_id=tenant,
            )
        rows = {r.destination: r for r in s.query(Notification).all()}
        now = datetime.now(UTC)
        rows["owner@acme.example"].delivered_at = now
        rows["owner@acme.example"].attempts = 1
        hook = rows["https://hooks.example/t/SECRET?x=1"]
        hook.attempts, hook.last_error = 2, "HTTP 503"
        hook.next_attempt_at = now + timedelta(minutes=4)
        rows["cs@acme.example"].attempts = 8
        rows["cs@acme.example"].failed_at = now
        rows["cs@acme.example"].last_error = "SMTP 550 mailbox unavailable"


def test_notify_list_shows_delivery_state_and_retries(any_db: Database, tmp_path: Path) -> None:
    settings = gateway_settings("http://127.0.0.1:9", tmp_path)
    acme = make_tenant(any_db, settings, "acme-n")[0]
    other = make_tenant(any_db, settings, "other-n")[0]
    _outbox(any_db, acme, other)
    config = write_config(tmp_path, any_db.url.render_as_string(hide_password=False))
    out = run("notify", "list", "--tenant", "acme-n", config=config)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3 and all("owner@other.example" not in ln for ln in lines)
    by_dest = {ln.split(" to ")[1].split()[0]: ln for ln in lines}
    assert (
        "delivered" in by_dest["owner@acme.example"]
        and "1 attempt(s)" in by_dest["owner@acme.example"]
    )
    hook = by_dest["https://hooks.example/..."]
    assert "retrying" in hook and "2 attempt(s)" in hook and "next try in 3 min" in hook
    assert "last error: HTTP 503" in hook and "SECRET" not in out.stdout
    failed = by_dest["cs@acme.example"]
    assert "failed" in failed and "8 attempt(s)" in failed and "SMTP 550" in failed
    only_failed = run("notify", "list", "--state", "failed", "--json", config=config)
    assert [r["destination"] for r in json.loads(only_failed.stdout)] == ["cs@acme.example"]
    one = json.loads(run("notify", "show", lines[0].split()[0], config=config).stdout)
    assert one["payload"] == {"tenant": acme}
    assert run("notify", "list", "--tenant", "nobody", config=config).returncode == 1


def test_notifications_by_admin_api(simulator: SimulatorServer, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    settings = gateway_settings(simulator.url, tmp_path, url)
    db = migrated(url)
    acme = make_tenant(db, settings, "acme-a")[0]
    other = make_tenant(db, settings, "other-a")[0]
    _outbox(db, acme, other)
    actor = Actor.system("tests")
    with db.begin() as s:
        tokens = {
            role: create_token(
                s, service.create_user(s, f"{role}@n.test", role, None, actor), actor
            )[1]
            for role in ("auditor", "billing_owner")
        }
    gw = start_gateway(settings, db)
    try:
        with httpx.Client(base_url=gw.url + "/admin/v1", timeout=10) as http:
            auth = {"authorization": f"Bearer {tokens['auditor']}"}
            got = http.get("/notifications", params={"tenant": acme}, headers=auth)
            assert got.status_code == 200
            states = sorted(n["state"] for n in got.json()["notifications"])
            assert states == ["delivered", "failed", "retrying"]
            bad = http.get("/notifications", params={"state": "lost"}, headers=auth)
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
            denied = http.get(
                "/notifications", headers={"authorization": f"Bearer {tokens['billing_owner']}"}
            )
            assert denied.status_code == 403
            assert http.get("/notifications/ntf_nope", headers=auth).status_code == 404
    finally:
        gw.stop()
        db.dispose()


@pytest.mark.parametrize("json_out", [False, True])
def test_incident_show_has_impact_and_evidence(tmp_path: Path, json_out: bool) -> None:
    url = sqlite_url(tmp_path)
    db = migrated(url)
    config = write_config(tmp_path, url)
    inc = last_line(
        run("incident", "open", "--title", "chat-large errors", "--severity", "SEV3",
            "--alias", "chat-large", config=config)
    )  # fmt: skip
    run("incident", "update", inc, "chat-large fails for some requests.", config=config)
    assert run("incident", "evidence", inc, config=config).returncode == 0
    resolved = run("incident", "resolve", inc, "--note", "fixed", config=config)
    assert resolved.returncode == 0, resolved.stderr
    if json_out:
        doc = json.loads(run("incident", "show", inc, "--json", config=config).stdout)
        assert set(doc["impact"]) >= {"before", "during", "after", "onset"}
        assert len(doc["evidence"]) == 2 and all(len(b["sha256"]) == 64 for b in doc["evidence"])
        assert doc["impact_live"] is False
    else:
        text = run("incident", "show", inc, config=config).stdout
        assert "impact (5xx/429 error rate):" in text
        assert "  during " in text and "  after " in text
        assert "evidence: 2 bundle(s)" in text and text.count("sha256 ") == 2
        assert "[customer update #" in text
    db.dispose()
