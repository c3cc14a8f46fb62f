"""Suspensions past their review date: listed, counted for metrics, notified daily."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sekisho.notify import notify_people
from sekisho.settings import Settings
from sekisho.store.db import Database
from sekisho.store.models import Tenant, TenantSuspension, User

log = logging.getLogger(__name__)
NOTIFIED_ROLES = ("operator", "admin")


def _overdue_query(now: datetime):  # type: ignore[no-untyped-def]
    return (
        select(TenantSuspension, Tenant)
        .join(Tenant, Tenant.id == TenantSuspension.tenant_id)
        .where(
            TenantSuspension.ended_at.is_(None),
            TenantSuspension.review_at <= now,
            Tenant.state == "suspended",
        )
        .order_by(TenantSuspension.review_at)
    )


def list_overdue(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """Open suspensions whose review date has passed, oldest review first."""
    now = now or datetime.now(UTC)
    return [
        {
            "tenant_id": tenant.id,
            "tenant": tenant.name,
            "suspension_id": s.id,
            "reason": s.reason,
            "suspended_at": s.created_at.isoformat(),
            "review_at": s.review_at.isoformat(),
            "days_overdue": (now - s.review_at).days,
        }
        for s, tenant in session.execute(_overdue_query(now)).all()
    ]


def overdue_count(session: Session, now: datetime | None = None) -> int:
    """How many suspensions are overdue (the `sekisho_suspensions_overdue` gauge)."""
    now = now or datetime.now(UTC)
    query = _overdue_query(now).with_only_columns(func.count()).order_by(None)
    return int(session.scalar(query) or 0)


def notify_overdue(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Queue today's reminder to operators for each overdue suspension (once a day each)."""
    now = now or datetime.now(UTC)
    overdue = list_overdue(session, now)
    if not overdue:
        return 0
    operators = session.scalars(
        select(User.email).where(User.role.in_(NOTIFIED_ROLES), User.disabled.is_(False))
    ).all()
    day = now.date().isoformat()
    added = 0
    for item in overdue:
        added += notify_people(
            session,
            settings,
            event="tenant.suspension_overdue",
            tenant_id=item["tenant_id"],
            subject=f"Sekisho: suspension of {item['tenant']} is past its review date",
            payload=item,
            emails=operators,
            dedupe_key=f"overdue:{item['suspension_id']}:{day}",
        )
    return added


class OverdueTracker:
    """Each replica's loop: count overdue suspensions, queue the daily reminders."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self.count = 0

    def _pass(self) -> int:
        with self._db.read() as session:
            self.count = overdue_count(session)
        if self.count:
            with self._db.begin() as session:
                notify_overdue(session, self._settings)
        return self.count

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self._pass)
            except Exception:
                log.warning("overdue suspension check failed", exc_info=True)
            await asyncio.sleep(self._settings.lifecycle.overdue_check_interval_s)
