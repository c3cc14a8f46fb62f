"""Rule 8 against the store: each reason x each role; a refused attempt changes nothing."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import yaml

from sekisho.actor import Actor
from sekisho.lifecycle import service
from sekisho.lifecycle.policy import REASON_OWNER, Refused
from sekisho.store.models import PLATFORM_ROLES, Tenant
from sekisho.tenancy.service import TenantSpec, create_tenant
from tests.lifecycle.conftest import Store
from tests.lifecycle.support import row_counts
from tests.support.cli import TEST_OPERATOR, ensure_operator, run
from tests.support.ledger import ledger_entries


def _tenant(store: Store) -> str:
    with store.db.begin() as session:
        return create_tenant(
            session,
            store.settings.matrix,
            TenantSpec(f"t-{secrets.token_hex(4)}"),
            Actor.system("tests"),
        ).id


def _req(
    store: Store, tenant: str, authorizer_role: str, requester_role: str = "operator"
) -> service.LifecycleRequest:
    return service.LifecycleRequest(
        tenant=tenant,
        requested_by=store.people[requester_role],
        authorized_by=store.people[authorizer_role],
        note="table test",
        via="tests",
    )


def _state(store: Store, tenant_id: str) -> str:
    with store.db.read() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        return tenant.state


@pytest.mark.parametrize("reason", sorted(REASON_OWNER))
@pytest.mark.parametrize("role", PLATFORM_ROLES)
def test_suspend_reason_by_role(pg_store: Store, reason: str, role: str) -> None:
    tenant_id = _tenant(pg_store)
    before = row_counts(pg_store.db)
    attempt = _req(pg_store, tenant_id, role)
    if role != REASON_OWNER[reason]:
        with pytest.raises(Refused, match=REASON_OWNER[reason]), pg_store.db.begin() as session:
            service.suspend_tenant(session, pg_store.settings, attempt, reason=reason)
        assert row_counts(pg_store.db) == before, "a refused suspension wrote something"
        assert _state(pg_store, tenant_id) == "active"
        return
    with pg_store.db.begin() as session:
        result = service.suspend_tenant(session, pg_store.settings, attempt, reason=reason)
    assert _state(pg_store, tenant_id) == "suspended"
    entry = [e for e in ledger_entries(pg_store.db, "tenant.suspend") if e["tenant"] == tenant_id][
        -1
    ]
    assert entry["reason"] == reason and entry["note"] == "table test"
    assert entry["actor"]["email"] == pg_store.people["operator"]
    assert entry["authorized_by"]["email"] == pg_store.people[role]
    assert entry["authorized_by"]["role"] == role
    assert entry["details"]["suspension_id"] == result.suspension_id
    assert (result.evidence_sha256 is not None) == (reason == "security_event")


@pytest.mark.parametrize("reason", sorted(REASON_OWNER))
@pytest.mark.parametrize("role", PLATFORM_ROLES)
def test_reinstate_reason_by_role(pg_store: Store, reason: str, role: str) -> None:
    tenant_id = _tenant(pg_store)
    with pg_store.db.begin() as session:
        service.suspend_tenant(
            session,
            pg_store.settings,
            _req(pg_store, tenant_id, REASON_OWNER[reason]),
            reason=reason,
        )
    before = row_counts(pg_store.db)
    attempt = _req(pg_store, tenant_id, role)
    if role != REASON_OWNER[reason]:
        with pytest.raises(Refused), pg_store.db.begin() as session:
            service.reinstate_tenant(session, pg_store.settings, attempt)
        assert row_counts(pg_store.db) == before
        assert _state(pg_store, tenant_id) == "suspended"
    else:
        with pg_store.db.begin() as session:
            service.reinstate_tenant(session, pg_store.settings, attempt)
        assert _state(pg_store, tenant_id) == "active"


@pytest.mark.parametrize("requester", [r for r in PLATFORM_ROLES if r not in ("operator", "admin")])
def test_only_operators_or_admins_request(pg_store: Store, requester: str) -> None:
    tenant_id = _tenant(pg_store)
    before = row_counts(pg_store.db)
    with pytest.raises(Refused), pg_store.db.begin() as session:
        service.suspend_tenant(
            session,
            pg_store.settings,
            _req(pg_store, tenant_id, "billing_owner", requester),
            reason="non_payment",
        )
    assert row_counts(pg_store.db) == before


@pytest.fixture
def config(pg_store: Store, tmp_path: Path) -> Path:
    from tests.lifecycle.support import config_document

    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump(
            config_document("http://127.0.0.1:9", tmp_path, pg_store.settings.database_url)
        )
    )
    return path


def test_cli_contract_for_suspend_and_reinstate(pg_store: Store, config: Path) -> None:
    tenant_id = _tenant(pg_store)
    people = pg_store.people
    ensure_operator(pg_store.settings.database_url)
    before = row_counts(pg_store.db)
    refused = run(
        "tenant",
        "suspend",
        tenant_id,
        "--reason",
        "non_payment",
        "--requested-by",
        people["operator"],
        "--authorized-by",
        people["legal_owner"],
        "--note",
        "unpaid",
        config=config,
    )
    assert refused.returncode == 1
    assert refused.stdout == f"acting as {TEST_OPERATOR} (admin) via cli\n"
    assert len(refused.stderr.strip().splitlines()) == 1 and "billing_owner" in refused.stderr
    assert row_counts(pg_store.db) == before

    ok = run(
        "tenant",
        "suspend",
        tenant_id,
        "--reason",
        "non_payment",
        "--review-in",
        "3d",
        "--requested-by",
        people["operator"],
        "--authorized-by",
        people["billing_owner"],
        "--note",
        "invoice 42 unpaid",
        config=config,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().splitlines()[-1].startswith("sus_")
    # Break-glass: the actor is the CLI's operator identity; the people named are its statement.
    entry = [e for e in ledger_entries(pg_store.db, "tenant.suspend") if e["tenant"] == tenant_id][
        -1
    ]
    assert entry["actor"]["email"] == TEST_OPERATOR and entry["details"]["via"] == "cli"
    assert entry["authorized_by"] is None and entry["details"]["break_glass"] is True
    stated = entry["details"]["statement"]
    assert stated["requested_by"]["email"] == people["operator"]
    assert stated["authorized_by"]["email"] == people["billing_owner"]
    with pg_store.db.read() as session:
        view = service.tenant_view(session, tenant_id)
    assert view["state"] == "suspended" and view["open_suspension"]["note"] == "invoice 42 unpaid"
    with (
        pytest.raises(Refused, match="cannot suspend a tenant that is suspended"),
        pg_store.db.begin() as session,
    ):
        service.suspend_tenant(
            session,
            pg_store.settings,
            _req(pg_store, tenant_id, "billing_owner"),
            reason="non_payment",
        )
    back = run(
        "tenant",
        "reinstate",
        tenant_id,
        "--requested-by",
        people["operator"],
        "--authorized-by",
        people["billing_owner"],
        "--note",
        "paid",
        config=config,
    )
    assert back.returncode == 0, back.stderr
    assert _state(pg_store, tenant_id) == "active"
