"""Announcing a committed change to every replica.

`notify_in_transaction` queues a PostgreSQL NOTIFY inside the change's own
transaction, so it is delivered exactly when (and only if) the change commits.
`Announcer.publish` sends the same events over Redis after the commit; a lost
publish is caught by every replica's version poll.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis
from sqlalchemy import text
from sqlalchemy.orm import Session

from sekisho.bus.events import Invalidation, encode

log = logging.getLogger(__name__)


def notify_in_transaction(session: Session, channel: str, event: Invalidation) -> None:
    """On PostgreSQL, NOTIFY `channel` when the surrounding transaction commits."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": channel, "payload": encode(event)},
        )


class Announcer:
    """Publishes committed invalidations over Redis (when configured)."""

    def __init__(self, redis_url: str | None, channel: str) -> None:
        self._redis_url = redis_url
        self._channel = channel
        self.failures = 0

    def publish(self, events: Iterable[Invalidation]) -> None:
        """Best effort: a failure is logged and counted; the version poll catches up."""
        events = list(events)
        if not events or not self._redis_url:
            return
        try:
            client = redis.Redis.from_url(
                self._redis_url, socket_timeout=2, socket_connect_timeout=2
            )
            try:
                for event in events:
                    client.publish(self._channel, encode(event))
            finally:
                client.close()
        except redis.RedisError:
            self.failures += 1
            log.warning(
                "invalidation publish over Redis failed; replicas poll instead", exc_info=True
            )
