"""The guardrail parts of a running gateway: the guard, its event writer, policy refresh."""

from __future__ import annotations

from dataclasses import dataclass

from sekisho.guardrails.events import EventStoreSink, load_or_create_salt
from sekisho.guardrails.guard import ChatGuard
from sekisho.guardrails.metrics import exposition
from sekisho.requestlog.writer import RequestLogWriter
from sekisho.settings import Settings
from sekisho.store.db import Database


@dataclass
class GuardrailsRuntime:
    guard: ChatGuard
    writer: RequestLogWriter

    async def run(self) -> None:
        """The background job: the event writer and the policy refresh, for the gateway's life."""
        self.writer.start()
        try:
            await self.guard.run_refresh()
        finally:
            await self.writer.stop()  # a clean shutdown writes every queued event

    def exposition(self) -> str:
        return exposition(self.guard)


def build_guardrails(settings: Settings, db: Database) -> GuardrailsRuntime:
    """The guard the chat service runs, with a batched writer of its own events table."""
    config = settings.guardrails
    salt_env = config.hash_salt_env
    salt = load_or_create_salt(
        settings.state_dir, settings.secrets.get(salt_env) if salt_env else None
    )
    # The request log's bounded, batched writer, with a sink of our own table.
    writer = RequestLogWriter(
        EventStoreSink(db),
        batch_size=config.events_batch_size,
        flush_interval_s=config.events_flush_interval_s,
        queue_max=config.events_queue_max,
    )
    guard = ChatGuard(config, submit=writer.submit, salt=salt, db=db)  # type: ignore[arg-type]
    guard.writer = writer
    return GuardrailsRuntime(guard, writer)
