"""Two-step suspension against the store (SQLite and PostgreSQL): an operator's request, then
the sign-off of the owner matching the reason; refusals change nothing; every act is in the
ledger with the principal that acted."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from sekisho.actor import Actor
from sekisho.lifecycle import requests
from sekisho.lifecycle.policy import REASON_OWNER, NotAuthorized, Refused
from sekisho.settings import Settings
from sekisho.store.db import Database
from sekisho.store.models import PLATFORM_ROLES, Tenant, User
from sekisho.tenancy.service import TenantSpec, create_tenant, find_user
from tests.lifecycle.support import ROLE_EMAIL, make_people, row_counts
from tests.support.gateway import gateway_settings
from tests.support.ledger import ledger_entries


def _settings(db: Database, tmp_path: Path) -> Settings:
    return gateway_settings("http://127.0.0.1:9", tmp_path, str(db.url))


def _actor(db: Database, role: str) -> Actor:
    with db.read() as session:
        user = find_user(session, ROLE_EMAIL[role])
        return Actor("user", user.id, user.email, user.role, via="admin-api:token")


def _tenant(db: Database, settings: Settings) -> str:
    with db.begin() as session:
        return create_tenant(
            session, settings.matrix, TenantSpec(f"t-{secrets.token_hex(4)}"), Actor.system("t")
        ).id


def _state(db: Database, tenant_id: str) -> str:
    with db.read() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        return tenant.state


@pytest.fixture
def env(any_db: Database, tmp_path: Path) -> tuple[Database, Settings]:
    make_people(any_db, passwords=False)
    return any_db, _settings(any_db, tmp_path)


def _request(db: Database, tenant_id: str, reason: str, who: str = "operator") -> str:
    with db.begin() as session:
        return requests.request_suspension(
            session, tenant_id, reason, f"why {reason}", None, _actor(db, who)
        ).id


@pytest.mark.parametrize("reason", sorted(REASON_OWNER))
def test_only_the_matching_owner_signs_off(env: tuple[Database, Settings], reason: str) -> None:
    db, settings = env
    tenant_id = _tenant(db, settings)
    request_id = _request(db, tenant_id, reason)
    owner = REASON_OWNER[reason]
    for role in PLATFORM_ROLES:
        if role == owner:
            continue
        before = row_counts(db)
        with pytest.raises(NotAuthorized), db.begin() as session:
            requests.sign_off(session, request_id, _actor(db, role), settings=settings)
        assert row_counts(db) == before, f"a refused sign-off by {role} wrote something"
        assert _state(db, tenant_id) == "active"

    with db.begin() as session:
        done = requests.sign_off(session, request_id, _actor(db, owner), settings=settings)
    assert done.state == "executed" and done.event is not None
    assert _state(db, tenant_id) == "suspended"
    assert (done.evidence_sha256 is not None) == (reason == "security_event")

    actions = [e["action"] for e in ledger_entries(db) if e["tenant"] == tenant_id]
    expected = ["suspension_request.create", "suspension_request.sign_off"]
    if reason == "security_event":  # Rule 9: the snapshot is taken before the suspension
        expected.append("evidence.suspension_snapshot")
    assert actions[-len(expected) - 1 :] == [*expected, "tenant.suspend"]
    create, sign = (
        [e for e in ledger_entries(db, a) if e["tenant"] == tenant_id][-1]
        for a in ("suspension_request.create", "suspension_request.sign_off")
    )
    suspend = [e for e in ledger_entries(db, "tenant.suspend") if e["tenant"] == tenant_id][-1]
    assert create["actor"]["email"] == "operator@sekisho.test"
    assert create["details"]["via"] == "admin-api:token" and create["note"] == f"why {reason}"
    assert sign["actor"]["role"] == owner and sign["target"]["id"] == request_id
    assert suspend["actor"]["role"] == owner and suspend["authorized_by"]["role"] == owner
    assert suspend["details"]["requested_by"]["email"] == "operator@sekisho.test"
    assert suspend["details"]["request_id"] == request_id


@pytest.mark.parametrize("role", PLATFORM_ROLES)
def test_only_operators_and_admins_request(env: tuple[Database, Settings], role: str) -> None:
    db, settings = env
    tenant_id = _tenant(db, settings)
    if role in ("operator", "admin"):
        assert _request(db, tenant_id, "non_payment", role).startswith("sreq_")
        return
    before = row_counts(db)
    with pytest.raises(NotAuthorized):
        _request(db, tenant_id, "non_payment", role)
    assert row_counts(db) == before


def test_self_approval_is_refused(env: tuple[Database, Settings]) -> None:
    db, settings = env
    tenant_id = _tenant(db, settings)
    request_id = _request(db, tenant_id, "non_payment", "admin")
    with db.begin() as session:  # the requester later holds the owner role
        session.execute(
            update(User).where(User.email == "admin@sekisho.test").values(role="billing_owner")
        )
    before = row_counts(db)
    with pytest.raises(NotAuthorized, match="person who made it"), db.begin() as session:
        requests.sign_off(session, request_id, _actor(db, "admin"), settings=settings)
    assert row_counts(db) == before and _state(db, tenant_id) == "active"


def test_a_disabled_requester_or_signer_is_refused(env: tuple[Database, Settings]) -> None:
    db, settings = env
    tenant_id = _tenant(db, settings)
    request_id = _request(db, tenant_id, "non_payment")
    owner = _actor(db, "billing_owner")
    with db.begin() as session:
        session.execute(update(User).where(User.id == owner.id).values(disabled=True))
    with pytest.raises(NotAuthorized, match="disabled"), db.begin() as session:
        requests.sign_off(session, request_id, owner, settings=settings)
    with db.begin() as session:
        session.execute(update(User).where(User.id == owner.id).values(disabled=False))
        session.execute(
            update(User).where(User.email == "operator@sekisho.test").values(disabled=True)
        )
    with pytest.raises(NotAuthorized, match="disabled"), db.begin() as session:
        requests.sign_off(session, request_id, owner, settings=settings)
    assert _state(db, tenant_id) == "active"


def test_either_side_withdraws(env: tuple[Database, Settings]) -> None:
    db, settings = env
    tenant_id = _tenant(db, settings)
    first = _request(db, tenant_id, "contract_termination")
    for role in ("billing_owner", "security_owner", "auditor", "admin"):
        with pytest.raises(NotAuthorized), db.begin() as session:
            requests.withdraw(session, first, _actor(db, role))
    with db.begin() as session:
        gone = requests.withdraw(session, first, _actor(db, "operator"), "asked by mistake")
    assert gone.state == "withdrawn" and gone.decided_by is not None
    with pytest.raises(Refused, match="withdrawn"), db.begin() as session:
        requests.sign_off(session, first, _actor(db, "legal_owner"), settings=settings)

    second = _request(db, tenant_id, "contract_termination")
    with db.begin() as session:
        requests.withdraw(session, second, _actor(db, "legal_owner"), "contract renewed")
    sides = [
        e["details"]["side"]
        for e in ledger_entries(db, "suspension_request.withdraw")
        if e["tenant"] == tenant_id
    ]
    assert sides == ["requester", "owner"]
    assert _state(db, tenant_id) == "active"


def test_one_pending_request_per_tenant_and_only_possible_steps(
    env: tuple[Database, Settings],
) -> None:
    db, settings = env
    tenant_id = _tenant(db, settings)
    with pytest.raises(Refused, match="cannot reinstate"), db.begin() as session:
        requests.request_reinstatement(session, tenant_id, "n", _actor(db, "operator"))
    request_id = _request(db, tenant_id, "non_payment")
    with pytest.raises(Refused, match=request_id):
        _request(db, tenant_id, "security_event")
    other, operator = _tenant(db, settings), _actor(db, "operator")
    for bad in (timedelta(0), timedelta(minutes=5), timedelta(days=400)):
        with pytest.raises(Refused, match="between 1 hour and 365 days"), db.begin() as session:
            requests.request_suspension(
                session, other, "non_payment", "n", datetime.now(UTC) + bad, operator
            )


def test_reinstatement_is_two_steps_too_and_lists_show_what_the_owner_needs(
    env: tuple[Database, Settings],
) -> None:
    db, settings = env
    tenant_id = _tenant(db, settings)
    review = datetime.now(UTC) + timedelta(days=3)
    with db.begin() as session:
        asked = requests.request_suspension(
            session, tenant_id, "non_payment", "invoice 42", review, _actor(db, "operator")
        )
    with db.read() as session:
        for_billing = requests.pending_requests(session, _actor(db, "billing_owner"))
        for_legal = requests.pending_requests(session, _actor(db, "legal_owner"))
    assert [r.id for r in for_billing] == [asked.id] and for_legal == []
    shown = for_billing[0].as_dict(requests.Person(*_who(db, "billing_owner")))
    assert shown["tenant_id"] == tenant_id and shown["reason"] == "non_payment"
    assert shown["note"] == "invoice 42" and shown["can_sign_off"] is True
    assert shown["review_at"].startswith(review.date().isoformat())
    assert shown["requested_by"]["email"] == "operator@sekisho.test"
    with db.begin() as session:
        done = requests.sign_off(session, asked.id, _actor(db, "billing_owner"), settings=settings)
    assert done.result is not None and done.result.review_at is not None
    assert abs((done.result.review_at - review).total_seconds()) < 5

    with db.begin() as session:
        back = requests.request_reinstatement(session, tenant_id, "paid", _actor(db, "admin"))
    assert back.kind == "reinstatement" and back.reason == "non_payment"
    with pytest.raises(NotAuthorized), db.begin() as session:
        requests.sign_off(session, back.id, _actor(db, "security_owner"), settings=settings)
    with db.begin() as session:
        requests.sign_off(session, back.id, _actor(db, "billing_owner"), settings=settings)
    assert _state(db, tenant_id) == "active"
    entry = [e for e in ledger_entries(db, "tenant.reinstate") if e["tenant"] == tenant_id][-1]
    assert entry["actor"]["role"] == "billing_owner"
    assert entry["details"]["requested_by"]["email"] == "admin@sekisho.test"


def _who(db: Database, role: str) -> tuple[str, str, str]:
    a = _actor(db, role)
    assert a.email and a.role
    return a.id, a.email, a.role
