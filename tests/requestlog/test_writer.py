"""The batch writer: bounded, never blocking, lossless on clean shutdown, failures counted."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from sekisho.requestlog.record import Attempt, RequestRecord
from sekisho.requestlog.sink import StoreSink
from sekisho.requestlog.writer import RequestLogWriter
from sekisho.store.db import Database
from sekisho.store.models import RequestLog


def _record(i: int) -> RequestRecord:
    return RequestRecord(
        id=f"req_{i:024d}",
        ts=datetime.now(UTC),
        alias="chat-large",
        status=200,
        attempts=[Attempt("p", "m", "ok", 200, 1.0, "primary")],
        latency_ms=1.0,
        prompt_tokens=1,
        completion_tokens=2,
    )


def test_clean_shutdown_writes_everything(any_db: Database) -> None:
    async def run() -> None:
        writer = RequestLogWriter(StoreSink(any_db), batch_size=100, flush_interval_s=10)
        writer.start()
        for i in range(1234):
            writer.submit(_record(i))
        await writer.stop()
        assert writer.stats.written == 1234 and writer.stats.dropped == 0

    asyncio.run(run())
    with any_db.read() as s:
        assert s.scalar(select(func.count()).select_from(RequestLog)) == 1234
        row = s.get(RequestLog, _record(7).id)
        assert row is not None and row.total_tokens == 3 and row.attempts[0]["provider"] == "p"


def test_full_queue_drops_and_counts() -> None:
    written: list[int] = []

    async def run() -> RequestLogWriter:
        writer = RequestLogWriter(
            lambda b: written.append(len(b)), queue_max=100, batch_size=1000, flush_interval_s=10
        )
        for i in range(150):
            writer.submit(_record(i))  # not started: nothing drains
        assert writer.depth == 100
        writer.start()
        await writer.stop()
        return writer

    writer = asyncio.run(run())
    assert writer.stats.dropped == 50 and writer.stats.written == 100 and sum(written) == 100


def test_store_failure_is_retried_then_counted(tmp_path: Path) -> None:
    calls: list[int] = []

    def broken(batch: Sequence[RequestRecord]) -> None:
        calls.append(len(batch))
        raise OSError("store down")

    async def run() -> RequestLogWriter:
        writer = RequestLogWriter(broken, retries=2, retry_delay_s=0.01, flush_interval_s=0.01)
        writer.start()
        writer.submit(_record(1))
        await asyncio.sleep(0.2)
        await writer.stop()
        return writer

    writer = asyncio.run(run())
    assert len(calls) == 3
    assert writer.stats.failed == 1 and writer.stats.write_errors == 3 and writer.stats.written == 0


def test_listener_errors_do_not_break_submit() -> None:
    async def run() -> RequestLogWriter:
        writer = RequestLogWriter(lambda b: None)
        writer.listeners.append(lambda r: 1 / 0)  # type: ignore[func-returns-value]
        writer.submit(_record(1))
        return writer

    assert asyncio.run(run()).depth == 1


def test_rows_arriving_during_a_write_wait_for_the_next_batch() -> None:
    """Under steady traffic one transaction carries many rows, not each few that arrived
    while the last one was being written (a busy writer thread slows every request)."""
    import threading

    batches: list[int] = []
    gate = threading.Event()

    def sink(batch: Sequence[RequestRecord]) -> None:
        gate.wait(5)
        batches.append(len(batch))

    async def run() -> None:
        writer = RequestLogWriter(sink, batch_size=3, flush_interval_s=30)
        writer.start()
        for i in range(3):  # a whole batch: written at once
            writer.submit(_record(i))
        while writer.depth:  # the batch was taken; it is being written
            await asyncio.sleep(0.001)
        writer.submit(_record(3))
        writer.submit(_record(4))
        gate.set()
        while writer.stats.written < 3:
            await asyncio.sleep(0.001)
        assert batches == [3] and writer.depth == 2  # not a transaction for two rows
        writer.submit(_record(5))  # a whole batch again
        while writer.stats.written < 6:
            await asyncio.sleep(0.001)
        assert batches == [3, 3]
        await writer.stop()

    asyncio.run(run())
