"""Tenant policies (versioned, ledgered, refused changes write nothing) and event rows, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from sekisho.actor import Actor
from sekisho.evidence import EvidenceFilters, EvidenceWindow, collect_bundle
from sekisho.guardrails.assignments import load_assignments, set_tenant_policy, tenant_assignment
from sekisho.guardrails.config import BUILTIN_POLICIES
from sekisho.guardrails.events import EVENTS, EventStoreSink, GuardrailEvent, value_hash
from sekisho.matrix import Matrix
from sekisho.store.db import Database
from sekisho.tenancy import service
from sekisho.tenancy.service import ControlPlaneError
from tests.support.ledger import ledger_entries

ACTOR = Actor("user", "usr_test", "op@sekisho.test", "operator")


def _tenant(db: Database, name: str = "acme") -> str:
    with db.begin() as s:
        return service.create_tenant(s, Matrix(), service.TenantSpec(name), Actor.system("t")).id


def test_policy_changes_are_versioned_and_ledgered(any_db: Database) -> None:
    tid = _tenant(any_db)
    with any_db.read() as s:
        assert tenant_assignment(s, "acme", "standard").version == 0
    for expected, name in ((1, "off"), (2, "standard")):
        with any_db.begin() as s:
            done = set_tenant_policy(s, "acme", name, ACTOR, known_policies=BUILTIN_POLICIES)
        assert (done.policy, done.version) == (name, expected)
    with any_db.read() as s:
        assert load_assignments(s)[tid].version == 2
    entries = ledger_entries(any_db, "tenant.guardrails.set")
    assert [e["details"]["version"] for e in entries] == [1, 2]
    assert entries[1]["details"]["previous"] == "off" and entries[1]["_ledger"] != "platform"


def test_an_unknown_policy_changes_nothing(any_db: Database) -> None:
    _tenant(any_db)
    with pytest.raises(ControlPlaneError, match="unknown guardrail policy"), any_db.begin() as s:
        set_tenant_policy(s, "acme", "nope", ACTOR, known_policies=BUILTIN_POLICIES)
    with any_db.read() as s:
        assert load_assignments(s) == {}
    assert ledger_entries(any_db, "tenant.guardrails.set") == []


def test_events_are_written_and_land_in_evidence_bundles(any_db: Database) -> None:
    tid = _tenant(any_db)
    now = datetime.now(UTC)
    event = GuardrailEvent(
        id="gre_1",
        ts=now,
        request_id="req_1",
        stage="input",
        check="payment_card",
        action="mask",
        enforced=True,
        kind="visa",
        location="messages[0].content",
        policy="standard",
        policy_version="standard@abc",
        latency_ms=0.2,
        tenant_id=tid,
        alias="chat-large",
        span_start=5,
        span_end=24,
        score=1.0,
        value_hash=value_hash(b"salt", "4111 1111 1111 1111"),
    )
    EventStoreSink(any_db)([event])
    with any_db.read() as s:
        bundle = collect_bundle(
            s,
            EvidenceFilters(tenant_id=tid),
            EvidenceWindow(now - timedelta(minutes=1), now + timedelta(minutes=1)),
        )
        count = s.scalar(select(func.count()).select_from(EVENTS))
    lines = bundle.files["guardrail_events.jsonl"].decode().splitlines()
    assert count == 1 and len(lines) == 1
    assert '"check":"payment_card"' in lines[0] and "4111" not in lines[0]


def test_value_hash_is_salted_and_normalised() -> None:
    assert value_hash(b"a", "4111") == value_hash(b"a", "\uff14\uff11\uff11\uff11")
    assert value_hash(b"a", "4111") != value_hash(b"b", "4111")
