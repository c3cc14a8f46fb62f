"""Bounded, asynchronous, batched writer of request-log rows (Rule 11).

`submit` never blocks and never awaits: it appends to a bounded queue, or
drops the row and counts it when the queue is full. A background task writes
batches through a blocking `sink` in a worker thread. `stop()` drains the
queue, so a clean shutdown loses nothing.

One bad row never costs the others (Rule 13). When the store refuses a batch,
its rows are written one by one: the good ones land, and a row refused alone
is set aside — handed to the sink's `dead_letter` (a table), counted in
`stats.dead_lettered` and `/metrics`. When no row lands at all the store itself
is likely down: the batch is retried a few times with a growing delay, then
set aside the same way; only a row that cannot even be set aside is lost, and
counted in `stats.failed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sekisho.requestlog.record import RequestRecord

log = logging.getLogger(__name__)

Sink = Callable[[Sequence[RequestRecord]], None]
DeadLetter = Callable[[Sequence[tuple[RequestRecord, str]]], None]
Listener = Callable[[RequestRecord], None]


@dataclass(slots=True)
class WriterStats:
    submitted: int = 0
    written: int = 0
    dropped: int = 0  # queue full: never reached the store
    failed: int = 0  # lost: refused after every retry and could not be set aside
    dead_lettered: int = 0  # refused alone, kept in the dead-letter table
    write_errors: int = 0  # failed batch attempts, retried or not


class RequestLogWriter:
    def __init__(
        self,
        sink: Sink,
        *,
        batch_size: int = 500,
        flush_interval_s: float = 0.5,
        queue_max: int = 100_000,
        retries: int = 3,
        retry_delay_s: float = 0.5,
    ) -> None:
        self._sink = sink
        self._dead_letter: DeadLetter | None = getattr(sink, "dead_letter", None)
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._queue: deque[RequestRecord] = deque()
        self._queue_max = queue_max
        self._retries = retries
        self._retry_delay = retry_delay_s
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.stats = WriterStats()
        self.listeners: list[Listener] = []

    @property
    def depth(self) -> int:
        return len(self._queue)

    def submit(self, record: RequestRecord) -> None:
        """Queue a row for writing; O(1), never blocks."""
        self.stats.submitted += 1
        for listener in self.listeners:
            try:
                listener(record)
            except Exception:  # a broken listener must not hurt the request
                log.exception("request-log listener failed")
        if len(self._queue) >= self._queue_max:
            self.stats.dropped += 1
            return
        self._queue.append(record)
        if len(self._queue) >= self._batch_size:
            self._wakeup.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="request-log")

    async def stop(self) -> None:
        """Write everything still queued, then stop."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def flush(self) -> None:
        """Write everything queued now (tests and shutdown)."""
        while self._queue:
            await self._write_batch()

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._interval)
            self._wakeup.clear()
            # One batch per wake-up, more only while whole batches wait: draining until
            # empty would write a transaction for every few rows that arrive meanwhile,
            # keeping a worker thread (and the interpreter lock) busy under steady load.
            while self._queue and not self._stopping:
                await self._write_batch()
                if len(self._queue) < self._batch_size:
                    break
        await self.flush()

    async def _write_batch(self) -> None:
        batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
        last_error = "refused after every retry"
        for attempt in range(self._retries + 1):
            try:
                await asyncio.to_thread(self._sink, batch)
                self.stats.written += len(batch)
                return
            except Exception as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                self.stats.write_errors += 1
                log.warning(
                    "request-log batch of %d failed (attempt %d)",
                    len(batch),
                    attempt + 1,
                    exc_info=True,
                )
            if len(batch) > 1:
                batch, rejected = await asyncio.to_thread(self._isolate, batch)
                if len(rejected) < len(batch):  # some rows landed: the store is up
                    await self._set_aside(rejected)
                    return
            if attempt < self._retries and not self._stopping:
                await asyncio.sleep(self._retry_delay * (attempt + 1))
        await self._set_aside([(record, last_error) for record in batch])

    def _isolate(
        self, batch: list[RequestRecord]
    ) -> tuple[list[RequestRecord], list[tuple[RequestRecord, str]]]:
        """Write rows one by one (worker thread); returns (all rows, those refused)."""
        rejected: list[tuple[RequestRecord, str]] = []
        for record in batch:
            try:
                self._sink([record])
                self.stats.written += 1
            except Exception as exc:
                rejected.append((record, f"{type(exc).__name__}: {exc}"))
        return batch, rejected

    async def _set_aside(self, rejected: list[tuple[RequestRecord, str]]) -> None:
        if not rejected:
            return
        if self._dead_letter is not None:
            try:
                await asyncio.to_thread(self._dead_letter, rejected)
                self.stats.dead_lettered += len(rejected)
                log.error(
                    "request-log: %d row(s) refused alone, kept as dead letters", len(rejected)
                )
                return
            except Exception:
                log.warning("request-log dead letter failed", exc_info=True)
        self.stats.failed += len(rejected)
