"""Notifications: an outbox table written in the change's transaction, delivered by a worker.

Channels: `webhook` (JSON POST signed with HMAC-SHA256, see `sign.py`) and
`email` (SMTP). Delivery is at least once, retried with exponential backoff,
claimed row by row so several replicas never send the same row at once.
"""

from sekisho.notify.outbox import enqueue, notify_people
from sekisho.notify.sign import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from sekisho.notify.worker import NotificationWorker

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "NotificationWorker",
    "enqueue",
    "notify_people",
    "sign",
    "verify",
]
