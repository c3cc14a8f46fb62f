"""Rule 7's "deletes nothing": row counts of every table only grow across
suspend -> reinstate -> suspend (security) -> offboard -> offboard --complete."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from sekisho.actor import Actor
from sekisho.identity import sessions
from sekisho.lifecycle import service
from sekisho.store.models import ApiKey, RequestLog, User, UserSession
from sekisho.tenancy.service import TenantSpec, create_key, create_tenant, create_user
from tests.lifecycle.conftest import Store
from tests.lifecycle.support import PASSWORD, row_counts


def _seed(store: Store) -> str:
    actor = Actor.system("tests")
    now = datetime.now(UTC)
    with store.db.begin() as session:
        tenant = create_tenant(
            session,
            store.settings.matrix,
            TenantSpec(f"keep-{secrets.token_hex(3)}", account_owner_email="owner@keep.test"),
            actor,
        )
        create_key(session, store.settings.matrix, tenant.id, actor)
        member = create_user(
            session,
            f"m-{secrets.token_hex(3)}@keep.test",
            "member",
            PASSWORD,
            actor,
            tenant_ref=tenant.id,
        )
        sessions.new_session(session, member, store.settings.identity, client_ip=None, now=now)
        for i in range(5):
            session.add(
                RequestLog(
                    id=f"req_keep_{tenant.id}_{i}",
                    ts=now - timedelta(minutes=i),
                    tenant_id=tenant.id,
                    alias="chat-large",
                    status=200,
                    latency_ms=12.5,
                    attempts=[],
                )
            )
    return tenant.id


def _tenant_rows(store: Store, tenant_id: str) -> tuple[int, int, int, int]:
    with store.db.read() as session:
        return tuple(
            int(session.scalar(select(func.count()).where(col == tenant_id)) or 0)
            for col in (
                ApiKey.tenant_id,
                User.tenant_id,
                RequestLog.tenant_id,
                UserSession.tenant_id,
            )
        )  # type: ignore[return-value]


def test_lifecycle_deletes_no_row(pg_store: Store) -> None:
    tenant_id = _seed(pg_store)
    people = pg_store.people
    owned = _tenant_rows(pg_store, tenant_id)
    assert owned == (1, 1, 5, 1)

    def req(owner: str) -> service.LifecycleRequest:
        return service.LifecycleRequest(
            tenant=tenant_id,
            requested_by=people["operator"],
            authorized_by=people[owner],
            note="step",
            via="tests",
        )

    steps = [
        lambda s: service.suspend_tenant(
            s, pg_store.settings, req("billing_owner"), reason="non_payment"
        ),
        lambda s: service.reinstate_tenant(s, pg_store.settings, req("billing_owner")),
        lambda s: service.suspend_tenant(
            s, pg_store.settings, req("security_owner"), reason="security_event"
        ),
        lambda s: service.offboard_tenant(s, pg_store.settings, req("security_owner")),
        lambda s: service.offboard_tenant(
            s, pg_store.settings, req("security_owner"), complete=True
        ),
    ]
    counts = row_counts(pg_store.db)
    states = []
    for step in steps:
        with pg_store.db.begin() as session:
            states.append(step(session).state)
        after = row_counts(pg_store.db)
        shrunk = {t: (counts[t], after.get(t)) for t in counts if after.get(t, 0) < counts[t]}
        assert not shrunk, f"rows disappeared: {shrunk}"
        counts = after
        assert _tenant_rows(pg_store, tenant_id) == owned
    assert states == ["suspended", "active", "suspended", "offboarding", "offboarded"]
    with pg_store.db.read() as session:
        view = service.tenant_view(session, tenant_id)
    assert [s["ended_kind"] for s in view["suspensions"]] == ["reinstated", "offboarding"]
    assert view["suspensions"][1]["evidence_sha256"]
