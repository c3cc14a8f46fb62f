"""Reading the outbox back: what was sent to whom, and how delivery went (CLI, admin API)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho.store.models import Notification

__all__ = ["STATES", "NotificationNotFound", "get_notification", "list_notifications", "state_of"]

STATES = ("pending", "retrying", "delivered", "failed")


class NotificationNotFound(LookupError):
    """No notification has this id."""


def state_of(row: Notification) -> str:
    """delivered | failed (gave up) | retrying (tried, will try again) | pending (not tried yet)."""
    if row.delivered_at is not None:
        return "delivered"
    if row.failed_at is not None:
        return "failed"
    return "retrying" if row.attempts else "pending"


def _destination(row: Notification) -> str:
    # A webhook URL may carry a token in its path or query: show where it goes, not how.
    if row.channel == "webhook":
        parts = urlsplit(row.destination)
        return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}/..."
    return row.destination


def _doc(row: Notification, *, payload: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": row.id,
        "tenant_id": row.tenant_id,
        "channel": row.channel,
        "destination": _destination(row),
        "event": row.event,
        "subject": row.subject,
        "state": state_of(row),
        "attempts": row.attempts,
        "created_at": row.created_at.isoformat(),
        "next_attempt_at": row.next_attempt_at.isoformat()
        if state_of(row) in ("pending", "retrying")
        else None,
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
        "failed_at": row.failed_at.isoformat() if row.failed_at else None,
        "last_error": row.last_error,
    }
    if payload:
        doc["payload"] = row.payload
    return doc


def list_notifications(
    session: Session,
    *,
    tenant_id: str | None = None,
    state: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Notifications, newest first, optionally of one tenant and in one delivery state."""
    stmt = select(Notification)
    if tenant_id is not None:
        stmt = stmt.where(Notification.tenant_id == tenant_id)
    if state == "delivered":
        stmt = stmt.where(Notification.delivered_at.is_not(None))
    elif state == "failed":
        stmt = stmt.where(Notification.failed_at.is_not(None), Notification.delivered_at.is_(None))
    elif state in ("pending", "retrying"):
        stmt = stmt.where(Notification.delivered_at.is_(None), Notification.failed_at.is_(None))
        stmt = stmt.where(
            Notification.attempts == 0 if state == "pending" else Notification.attempts > 0
        )
    elif state is not None:
        raise ValueError(f"state must be one of {', '.join(STATES)}")
    stmt = stmt.order_by(Notification.created_at.desc(), Notification.id).limit(limit)
    return [_doc(row, payload=False) for row in session.scalars(stmt)]


def get_notification(session: Session, notification_id: str) -> dict[str, Any]:
    """One notification with its payload."""
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotificationNotFound(f"no notification {notification_id!r}")
    return _doc(row, payload=True)
