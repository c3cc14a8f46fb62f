"""Delivering one notification: a signed webhook POST or an SMTP message."""

from __future__ import annotations

import asyncio
import smtplib
import time
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import aiohttp
import orjson

from sekisho.notify.sign import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from sekisho.settings import NotifySettings


class DeliveryFailed(Exception):
    """This attempt failed; the worker retries later. The message says why."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: str
    channel: str
    destination: str
    event: str
    subject: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int


def webhook_body(note: Outgoing) -> bytes:
    return orjson.dumps(
        {
            "id": note.id,
            "event": note.event,
            "subject": note.subject,
            "created_at": note.created_at.isoformat(),
            "data": note.payload,
        },
        option=orjson.OPT_SORT_KEYS,
    )


async def send_webhook(note: Outgoing, key: bytes | None, timeout_s: float) -> None:
    body = webhook_body(note)
    headers = {
        "content-type": "application/json",
        "x-sekisho-event": note.event,
        "x-sekisho-delivery": note.id,
    }
    if key is not None:
        stamp = int(time.time())
        headers[TIMESTAMP_HEADER] = str(stamp)
        headers[SIGNATURE_HEADER] = sign(key, stamp, body)
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as http,
            http.post(note.destination, data=body, headers=headers) as response,
        ):
            if response.status >= 300:
                raise DeliveryFailed(f"webhook answered HTTP {response.status}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DeliveryFailed(f"webhook unreachable: {exc.__class__.__name__}: {exc}") from exc


def email_text(note: Outgoing) -> str:
    lines = [note.subject, ""]
    lines += [f"{k}: {v}" for k, v in sorted(note.payload.items())]
    lines += ["", f"(Sekisho notification {note.id}, event {note.event})"]
    return "\n".join(lines) + "\n"


def _send_email_blocking(note: Outgoing, cfg: NotifySettings, password: str | None) -> None:
    message = EmailMessage()
    message["From"] = cfg.smtp_from
    message["To"] = note.destination
    message["Subject"] = note.subject
    message["X-Sekisho-Event"] = note.event
    message.set_content(email_text(note))
    assert cfg.smtp_host is not None
    with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout_s) as smtp:
        if cfg.smtp_starttls:
            smtp.starttls()
        if cfg.smtp_username and password:
            smtp.login(cfg.smtp_username, password)
        smtp.send_message(message)


async def send_email(note: Outgoing, cfg: NotifySettings, password: str | None) -> None:
    try:
        await asyncio.to_thread(_send_email_blocking, note, cfg, password)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"SMTP delivery failed: {exc.__class__.__name__}: {exc}") from exc
