"""The outbox worker: claim due rows, deliver, record the outcome; any replica may run it."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select

from sekisho.notify.deliver import DeliveryFailed, Outgoing, send_email, send_webhook
from sekisho.settings import Settings
from sekisho.store.db import Database
from sekisho.store.models import Notification

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=120)  # a claimed row is invisible to other workers this long
MAX_BACKOFF = timedelta(hours=1)
BATCH = 20


class NotificationWorker:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        cfg = settings.notify
        self._webhook_key = (
            settings.secrets.get(cfg.webhook_secret_env, "").encode() or None
            if cfg.webhook_secret_env
            else None
        )
        self._smtp_password = (
            settings.secrets.get(cfg.smtp_password_env) if cfg.smtp_password_env else None
        )
        self.delivered = 0
        self.failed_attempts = 0

    def _channels(self) -> list[str]:
        return ["webhook", "email"] if self._settings.notify.smtp_host else ["webhook"]

    def _due(self, now: datetime):  # type: ignore[no-untyped-def]
        return (
            Notification.delivered_at.is_(None),
            Notification.failed_at.is_(None),
            Notification.next_attempt_at <= now,
            Notification.channel.in_(self._channels()),
        )

    def _claim(self) -> list[Outgoing]:
        now = datetime.now(UTC)
        with self._db.read() as session:  # cheap check first: no write transaction when idle
            if not session.scalar(select(exists().where(*self._due(now)))):
                return []
        with self._db.begin() as session:
            query = (
                select(Notification)
                .where(*self._due(now))
                .order_by(Notification.next_attempt_at)
                .limit(BATCH)
            )
            if self._db.is_postgres:
                query = query.with_for_update(skip_locked=True)
            claimed = []
            for row in session.scalars(query):
                row.attempts += 1
                row.next_attempt_at = now + LEASE
                claimed.append(
                    Outgoing(
                        row.id,
                        row.channel,
                        row.destination,
                        row.event,
                        row.subject,
                        dict(row.payload),
                        row.created_at,
                        row.attempts,
                    )
                )
            return claimed

    def _finish(self, note: Outgoing, error: str | None) -> None:
        now = datetime.now(UTC)
        cfg = self._settings.notify
        with self._db.begin() as session:
            row = session.get(Notification, note.id)
            if row is None:
                return
            if error is None:
                row.delivered_at = now
                row.last_error = None
            elif note.attempts >= cfg.max_attempts:
                row.failed_at = now
                row.last_error = error[:1000]
            else:
                delay = timedelta(seconds=cfg.retry_base_s * 2 ** (note.attempts - 1))
                row.next_attempt_at = now + min(delay, MAX_BACKOFF)
                row.last_error = error[:1000]

    async def _deliver(self, note: Outgoing) -> None:
        cfg = self._settings.notify
        if note.channel == "webhook":
            await send_webhook(note, self._webhook_key, cfg.webhook_timeout_s)
        else:
            await send_email(note, cfg, self._smtp_password)

    async def run_once(self) -> int:
        """Deliver what is due now; returns how many were delivered."""
        delivered = 0
        for note in await asyncio.to_thread(self._claim):
            error: str | None = None
            try:
                await self._deliver(note)
            except DeliveryFailed as exc:
                error = str(exc)
            if error is None:
                delivered += 1
                self.delivered += 1
            else:
                self.failed_attempts += 1
                log.warning("notification %s (%s) not delivered: %s", note.id, note.channel, error)
            await asyncio.to_thread(self._finish, note, error)
        return delivered

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.warning("notification worker pass failed", exc_info=True)
            await asyncio.sleep(self._settings.notify.worker_interval_s)
