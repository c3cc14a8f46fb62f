"""Writing notifications into the outbox, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sekisho.ids import new_id
from sekisho.settings import Settings
from sekisho.store.models import Notification


def enqueue(
    session: Session,
    *,
    channel: str,
    destination: str,
    event: str,
    subject: str,
    payload: dict[str, Any],
    tenant_id: str | None = None,
    dedupe_key: str | None = None,
) -> bool:
    """Add one notification; with a `dedupe_key` already used, add nothing and return False."""
    now = datetime.now(UTC)
    values = {
        "id": new_id("ntf", 8),
        "channel": channel,
        "destination": destination,
        "event": event,
        "subject": subject,
        "payload": payload,
        "tenant_id": tenant_id,
        "dedupe_key": dedupe_key,
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
    }
    table = cast(Table, Notification.__table__)
    if session.get_bind().dialect.name == "postgresql":
        stmt: Any = postgresql.insert(table).values(values).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(table).values(values).on_conflict_do_nothing()
    result = session.execute(stmt)
    return bool(getattr(result, "rowcount", 1))


def notify_people(
    session: Session,
    settings: Settings,
    *,
    event: str,
    subject: str,
    payload: dict[str, Any],
    emails: Iterable[str | None],
    tenant_id: str | None = None,
    dedupe_key: str | None = None,
) -> int:
    """E-mail each address once and post the event to the webhook (if configured)."""
    added = 0
    for email in sorted({e for e in emails if e}):
        key = f"{dedupe_key}:email:{email}" if dedupe_key else None
        added += enqueue(
            session,
            channel="email",
            destination=email,
            event=event,
            subject=subject,
            payload=payload,
            tenant_id=tenant_id,
            dedupe_key=key,
        )
    if settings.notify.webhook_url:
        key = f"{dedupe_key}:webhook" if dedupe_key else None
        added += enqueue(
            session,
            channel="webhook",
            destination=settings.notify.webhook_url,
            event=event,
            subject=subject,
            payload=payload,
            tenant_id=tenant_id,
            dedupe_key=key,
        )
    return added
