"""Notify and track: suspension notices by e-mail (SMTP) and signed webhook, retries,
overdue suspensions listed, counted and reminded once a day."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select, update

from sekisho.lifecycle import service
from sekisho.lifecycle.overdue import list_overdue, notify_overdue, overdue_count
from sekisho.notify import NotificationWorker, verify
from sekisho.settings import Settings
from sekisho.store.db import Database
from sekisho.store.models import Notification, TenantSuspension
from tests.lifecycle.mailsink import SmtpSink, WebhookSink
from tests.lifecycle.support import make_people
from tests.support.databases import sqlite_url
from tests.support.gateway import gateway_settings, make_tenant, migrated

HOOK_KEY = "hook-secret-for-tests"


@pytest.fixture
def sinks() -> Iterator[tuple[SmtpSink, WebhookSink]]:
    smtp, hook = SmtpSink(), WebhookSink()
    yield smtp, hook
    smtp.close()
    hook.close()


@pytest.fixture
def setup(
    tmp_path: Path, sinks: tuple[SmtpSink, WebhookSink]
) -> Iterator[tuple[Database, Settings, dict[str, str], str]]:
    smtp, hook = sinks
    db = migrated(sqlite_url(tmp_path))
    settings = gateway_settings(
        "http://127.0.0.1:9",
        tmp_path,
        sqlite_url(tmp_path),
        notify={
            "webhook_url": hook.url,
            "webhook_secret_env": "HOOK_KEY",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_from": "sekisho@ops.test",
            "max_attempts": 2,
            "retry_base_s": 0.1,
        },
    )
    settings.secrets["HOOK_KEY"] = HOOK_KEY
    people = make_people(db, passwords=False)
    tenant_id, _ = make_tenant(
        db, settings, "notified", account_owner_email="owner@n.test", cs_email="cs@ops.test"
    )
    yield db, settings, people, tenant_id
    db.dispose()


def _suspend(db: Database, settings: Settings, people: dict[str, str], tenant: str) -> None:
    req = service.LifecycleRequest(
        tenant=tenant,
        requested_by=people["operator"],
        authorized_by=people["billing_owner"],
        note="unpaid",
        via="tests",
    )
    with db.begin() as session:
        service.suspend_tenant(session, settings, req, reason="non_payment")


def test_suspension_notifies_contacts_by_mail_and_signed_webhook(
    setup: tuple[Database, Settings, dict[str, str], str], sinks: tuple[SmtpSink, WebhookSink]
) -> None:
    db, settings, people, tenant = setup
    smtp, hook = sinks
    _suspend(db, settings, people, tenant)
    assert asyncio.run(NotificationWorker(db, settings).run_once()) == 3
    assert sorted(r[0] for r, _ in smtp.messages) == ["cs@ops.test", "owner@n.test"]
    assert all("access for notified is suspended" in body for _, body in smtp.messages)
    ((headers, body),) = hook.received
    stamp = int(headers["x-sekisho-timestamp"])
    assert verify(
        HOOK_KEY.encode(), stamp, body, headers["x-sekisho-signature"], now=int(time.time())
    )
    assert not verify(
        b"other-key", stamp, body, headers["x-sekisho-signature"], now=int(time.time())
    )
    doc = orjson.loads(body)
    assert doc["event"] == "tenant.suspended" and doc["data"]["reason"] == "non_payment"
    with db.read() as session:
        rows = session.scalars(select(Notification)).all()
    assert all(r.delivered_at is not None for r in rows)
    assert asyncio.run(NotificationWorker(db, settings).run_once()) == 0  # nothing twice


def test_failed_webhook_is_retried_then_given_up(
    setup: tuple[Database, Settings, dict[str, str], str], sinks: tuple[SmtpSink, WebhookSink]
) -> None:
    db, settings, people, tenant = setup
    _, hook = sinks
    hook.status = 500
    _suspend(db, settings, people, tenant)
    worker = NotificationWorker(db, settings)
    asyncio.run(worker.run_once())
    with db.read() as session:
        row = session.scalars(select(Notification).where(Notification.channel == "webhook")).one()
    assert row.delivered_at is None and row.attempts == 1 and "HTTP 500" in (row.last_error or "")
    time.sleep(0.2)
    asyncio.run(worker.run_once())
    with db.read() as session:
        row = session.scalars(select(Notification).where(Notification.channel == "webhook")).one()
    assert row.failed_at is not None and row.attempts == 2 and len(hook.received) == 2


def test_overdue_is_listed_counted_and_reminded_once_a_day(
    setup: tuple[Database, Settings, dict[str, str], str],
) -> None:
    db, settings, people, tenant = setup
    _suspend(db, settings, people, tenant)
    with db.begin() as session:
        session.execute(
            update(TenantSuspension).values(review_at=datetime.now(UTC) - timedelta(days=2))
        )
    with db.read() as session:
        items = list_overdue(session)
        assert overdue_count(session) == 1
    assert [i["tenant_id"] for i in items] == [tenant] and items[0]["days_overdue"] == 2
    with db.begin() as session:
        first = notify_overdue(session, settings)
    with db.begin() as session:
        again = notify_overdue(session, settings)
        tomorrow = notify_overdue(session, settings, datetime.now(UTC) + timedelta(days=1))
    assert first == 3 and again == 0 and tomorrow == 3  # operator + admin e-mails, webhook
    with db.read() as session:
        reminded = session.scalars(
            select(Notification.destination).where(
                Notification.event == "tenant.suspension_overdue"
            )
        ).all()
    assert set(reminded) >= {people["operator"], people["admin"]}
