"""Wiring guardrails into a gateway: the guard, its event writer, policy refresh, metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sekisho.guardrails.events import EventStoreSink, load_or_create_salt
from sekisho.guardrails.guard import ChatGuard
from sekisho.guardrails.metrics import exposition
from sekisho.requestlog.writer import RequestLogWriter

if TYPE_CHECKING:
    from sekisho.gateway import Gateway


def attach(gateway: Gateway) -> ChatGuard:
    """Give the gateway's chat service a real guard; its writer runs with the gateway."""
    settings = gateway.settings
    config = settings.guardrails
    salt_env = config.hash_salt_env
    salt = load_or_create_salt(
        settings.state_dir, settings.secrets.get(salt_env) if salt_env else None
    )
    # The request log's bounded, batched writer, with a sink of our own table.
    writer = RequestLogWriter(
        EventStoreSink(gateway.db),
        batch_size=config.events_batch_size,
        flush_interval_s=config.events_flush_interval_s,
        queue_max=config.events_queue_max,
    )
    guard = ChatGuard(config, submit=writer.submit, salt=salt, db=gateway.db)  # type: ignore[arg-type]
    guard.writer = writer
    gateway.chat.guard = guard

    async def run_guardrails() -> None:
        writer.start()
        try:
            await guard.run_refresh()
        finally:
            await writer.stop()  # a clean shutdown writes every queued event

    gateway.background.append(run_guardrails)
    if gateway.observability is not None:
        gateway.observability.metrics.exposition_parts.append(lambda: exposition(guard))
    return guard
