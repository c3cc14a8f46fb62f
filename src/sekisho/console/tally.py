"""How many SQL statements one console answer cost: counted, and said in `Server-Timing`.

`QueryTally` wraps the console app: each request gets a fresh counter in a
context variable, and a `before_cursor_execute` listener on the engine adds
one per statement issued while that request is being served, including by
its in-process admin API calls and worker threads (`asyncio.to_thread` and
new tasks copy the context). Background work (rollup flushes, alert rounds,
other requests) runs in other contexts and is not counted. Transaction
control (SQLite's explicit BEGIN) is not a query and is left out.

The answer carries `Server-Timing: db;dur=<ms>;desc="<n> queries"`, which a
browser's developer tools show next to the request, and which the query
budget test and the volume benchmark read.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from sekisho.http.asgi import Message, Receive, Scope, Send

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
HEADER = b"server-timing"


@dataclass(slots=True)
class Tally:
    queries: int = 0
    db_s: float = 0.0

    def header(self) -> bytes:
        return f'db;dur={self.db_s * 1000:.1f};desc="{self.queries} queries"'.encode()


_current: ContextVar[Tally | None] = ContextVar("sekisho_console_tally", default=None)


def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
    tally = _current.get()
    if tally is None or statement.lstrip()[:5].upper() == "BEGIN":
        return
    tally.queries += 1
    conn.info.setdefault("sekisho_tally_t0", []).append(time.perf_counter())


def _after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
    tally = _current.get()
    starts = conn.info.get("sekisho_tally_t0")
    if tally is None or not starts:
        return
    tally.db_s += time.perf_counter() - starts.pop()


def watch(engine: Engine) -> None:
    """Count this engine's statements (idempotent: one listener pair per engine)."""
    if not event.contains(engine, "before_cursor_execute", _before):
        event.listen(engine, "before_cursor_execute", _before)
        event.listen(engine, "after_cursor_execute", _after)


def parse(header: str) -> int | None:
    """The query count of a `Server-Timing` value written by `Tally.header`."""
    for part in header.split(","):
        fields = part.strip().split(";")
        if fields[0] != "db":
            continue
        for f in fields[1:]:
            name, _, value = f.partition("=")
            if name.strip() == "desc":
                return int(value.strip('"').split()[0])
    return None


class QueryTally:
    """ASGI wrapper: count the statements of each request and say so in `Server-Timing`."""

    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app = app
        watch(engine)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tally = Tally()
        reset = _current.set(tally)

        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, tally.header())]}
            await send(message)

        try:
            await self.app(scope, receive, with_header)
        finally:
            _current.reset(reset)
