"""Operating guardrails: admin API, CLI, /metrics, evidence of a security suspension, and a
scan that no raw value reached any table, log line or metric."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import inspect, select, text

from sekisho.actor import Actor
from sekisho.admin.tokens import create_token
from sekisho.evidence.record import EvidenceBundleRecord
from sekisho.lifecycle import service as lifecycle
from sekisho.store.base import Base
from sekisho.tenancy import service
from tests.guardrails.conftest import GUARDRAILS, GuardEnv
from tests.guardrails.test_gateway import AWS_KEY, CARD, flush, post
from tests.lifecycle.support import make_people
from tests.support.cli import run
from tests.support.ledger import ledger_entries

RAW = [AWS_KEY, CARD, CARD.replace(" ", ""), "taro@example.jp", "123456789018"]


def _token(env: GuardEnv, role: str) -> str:
    actor = Actor.system("tests")
    with env.db.begin() as s:
        user = service.create_user(s, f"{role}{time.time_ns()}@guard.test", role, None, actor)
        _, token = create_token(s, user, actor)
    return token


def _admin(env: GuardEnv, method: str, path: str, token: str, **kw: object) -> httpx.Response:
    return httpx.request(
        method,
        env.url + "/admin/v1" + path,
        headers={"authorization": f"Bearer {token}"},
        timeout=30,
        **kw,  # type: ignore[arg-type]
    )


def test_admin_api_sets_a_policy_and_lists_events_per_tenant_and_alias(env: GuardEnv) -> None:
    op, auditor = _token(env, "operator"), _token(env, "auditor")
    shown = _admin(env, "GET", "/tenants/plain/guardrails", auditor).json()
    assert shown["policy"] == "standard" and not shown["own_policy"]
    denied = _admin(env, "PUT", "/tenants/plain/guardrails", auditor, json={"policy": "strict"})
    assert denied.status_code == 403
    bad = _admin(env, "PUT", "/tenants/plain/guardrails", op, json={"policy": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
    ok = _admin(
        env, "PUT", "/tenants/strict/guardrails", op, json={"policy": "strict", "note": "again"}
    )
    assert ok.status_code == 200 and ok.json()["assignment_version"] == 2
    assert any(
        e["details"]["version"] == 2 for e in ledger_entries(env.db, "tenant.guardrails.set")
    )

    r = post(env, "plain", f"card {CARD}")
    flush(env)
    by_tenant = _admin(
        env, "GET", "/guardrails/events?tenant=plain&check=payment_card", auditor
    ).json()
    assert any(e["request_id"] == r.headers["x-request-id"] for e in by_tenant["events"])
    by_alias = _admin(env, "GET", "/guardrails/events?alias=chat-large", auditor).json()["events"]
    assert by_alias and all(e["alias"] == "chat-large" for e in by_alias)
    assert _admin(env, "GET", "/guardrails/events?alias=chat-jp", auditor).json()["events"] == []
    policies = _admin(env, "GET", "/guardrails/policies", auditor).json()
    assert set(policies["policies"]) >= {"standard", "off", "outonly", "strict", "watch"}


def test_policy_change_applies_to_the_next_request(env: GuardEnv) -> None:
    op = _token(env, "operator")
    assert post(env, "watch", f"{AWS_KEY}").status_code == 200  # monitor mode
    assert (
        _admin(env, "PUT", "/tenants/watch/guardrails", op, json={"policy": "standard"}).status_code
        == 200
    )
    assert post(env, "watch", f"{AWS_KEY}").status_code == 400
    assert (
        _admin(env, "PUT", "/tenants/watch/guardrails", op, json={"policy": "watch"}).status_code
        == 200
    )


def test_cli_sets_and_shows_a_tenant_policy(env: GuardEnv, tmp_path: Path) -> None:
    from sekisho.demo import demo_document

    doc = demo_document(env.sim.url, env.state, 0)
    doc["database_url"] = env.gw.gateway.settings.database_url
    doc["guardrails"] = GUARDRAILS
    config = tmp_path / "sekisho.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    done = run(
        "tenant", "guardrails", "out", "--policy", "outonly", "--note", "cli test", config=config
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "outonly"
    shown = run("tenant", "guardrails", "out", config=config)
    assert shown.returncode == 0 and "version" in shown.stdout
    before = len(ledger_entries(env.db, "tenant.guardrails.set"))
    bad = run("tenant", "guardrails", "out", "--policy", "nope", config=config)
    assert bad.returncode == 1 and "unknown guardrail policy" in bad.stderr
    assert len(ledger_entries(env.db, "tenant.guardrails.set")) == before


def test_metrics_count_findings(env: GuardEnv) -> None:
    post(env, "plain", f"{AWS_KEY}")
    body = httpx.get(env.url + "/metrics", timeout=30).text
    assert 'sekisho_guardrail_blocks_total{stage="input",check="secrets"}' in body
    assert (
        "sekisho_guardrail_findings_total" in body
        and "sekisho_guardrail_events_written_total" in body
    )


def test_events_are_in_the_evidence_bundle_of_a_security_suspension(env: GuardEnv) -> None:
    actor = Actor.system("tests")
    with env.db.begin() as s:
        tenant = service.create_tenant(
            s, env.gw.gateway.settings.matrix, service.TenantSpec("suspect"), actor
        )
        _, key = service.create_key(s, env.gw.gateway.settings.matrix, tenant.id, actor)
    env.keys["suspect"] = key
    r = post(env, "suspect", f"leak {AWS_KEY}")
    assert r.status_code == 400
    flush(env)
    people = make_people(env.db, passwords=False)
    with env.db.begin() as s:
        result = lifecycle.suspend_tenant(
            s,
            env.gw.gateway.settings,
            lifecycle.LifecycleRequest(
                tenant=tenant.id,
                requested_by=people["operator"],
                authorized_by=people["security_owner"],
                note="leaked credentials",
                via="tests",
            ),
            reason="security_event",
        )
    import io
    import tarfile

    with env.db.read() as s:
        record = s.scalars(
            select(EvidenceBundleRecord).where(
                EvidenceBundleRecord.sha256 == result.evidence_sha256
            )
        ).one()
        assert record.content is not None
        with tarfile.open(fileobj=io.BytesIO(record.content)) as tar:
            member = tar.extractfile("guardrail_events.jsonl")
            assert member is not None
            lines = member.read().decode().splitlines()
    assert any(r.headers["x-request-id"] in line and '"check":"secrets"' in line for line in lines)
    assert not any("AKIA" in line for line in lines)


@pytest.fixture
def captured_logs() -> Iterator[list[str]]:
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    root.setLevel(old)


def test_no_raw_value_in_any_table_log_line_or_metric(
    env: GuardEnv, captured_logs: list[str]
) -> None:
    texts = [f"{AWS_KEY} and {CARD}", f"mail taro@example.jp, マイナンバー 123456789018, {CARD}"]
    for tenant in ("plain", "out", "watch", "strict"):
        for t in texts:
            post(env, tenant, t)
            post(env, tenant, t, stream=True)
    flush(env)
    dumped: list[str] = []
    with env.db.read() as s:
        present = set(inspect(s.get_bind()).get_table_names())
        for name, table in Base.metadata.tables.items():
            if name in present:
                dumped += [repr(tuple(row)) for row in s.execute(select(table))]
        assert s.execute(text("select count(*) from guardrail_events")).scalar_one() > 0
    metrics = httpx.get(env.url + "/metrics", timeout=30).text
    haystacks = {"tables": "\n".join(dumped), "logs": "\n".join(captured_logs), "metrics": metrics}
    for where, hay in haystacks.items():
        for value in RAW:
            assert value not in hay, (where, value)
