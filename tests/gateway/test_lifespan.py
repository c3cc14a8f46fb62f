"""The ASGI lifespan: a failed start-up is reported, shutdown stops the parts in order."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from sekisho.http.app import GatewayApp, create_app
from sekisho.serve import ServeError, _serve_one
from sekisho.settings import Settings
from sekisho.store.db import Database
from tests.support.databases import sqlite_url
from tests.support.gateway import gateway_settings, migrated, signed_by_gateway_key

Message = dict[str, Any]


async def lifespan(app: GatewayApp, *steps: str) -> list[Message]:
    """Drive the lifespan protocol through `steps` ("startup", "shutdown"); the replies."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    replies: list[Message] = []
    got: asyncio.Queue[Message] = asyncio.Queue()

    async def receive() -> Message:
        return await inbox.get()

    async def send(message: MutableMapping[str, Any]) -> None:
        replies.append(dict(message))
        await got.put(dict(message))

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    for step in steps:
        await inbox.put({"type": f"lifespan.{step}"})
        reply = await asyncio.wait_for(got.get(), 30)
        if reply["type"].endswith(".failed"):
            break
    # A failed start-up also raises out of the app (Starlette re-raises after replying).
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 30)
    return replies


def settings_for(tmp_path: Path) -> Settings:
    settings = gateway_settings("http://127.0.0.1:9", tmp_path, sqlite_url(tmp_path))
    settings.observe.probes_enabled = False
    return settings


def test_a_failed_start_up_is_reported_to_the_server_and_kept(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    app = create_app(settings, db=Database(settings.database_url))  # no schema: start-up fails
    closed: list[bool] = []
    close = app.gateway.upstream.close

    async def record_close() -> None:
        closed.append(True)
        await close()

    app.gateway.upstream.close = record_close  # type: ignore[method-assign]
    replies = asyncio.run(lifespan(app, "startup"))
    assert [r["type"] for r in replies] == ["lifespan.startup.failed"]
    assert app.startup_error is not None and "no such table" in app.startup_error
    assert closed == [True]  # what start-up had opened is closed again


def test_serve_names_the_start_up_failure(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(ServeError, match=r"start-up failed: .*no such table"):
            _serve_one(settings, Database(settings.database_url), sock, "127.0.0.1")
    finally:
        sock.close()


def test_shutdown_stops_loops_then_requests_writer_quotas_rollups_upstream(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)
    db = signed_by_gateway_key(migrated(settings.database_url), settings)
    app = create_app(settings, db=db)
    gateway = app.gateway
    order: list[str] = []

    def recorded(name: str, step: Callable[..., Awaitable[object]]) -> Callable[..., Any]:
        async def run(*args: Any) -> None:
            if name == "drain":  # every background loop has ended before requests are cut
                order.append("loops" if all(t.done() for t in gateway._tasks) else "loops running")
            order.append(name)
            await step(*args)

        return run

    gateway.chat.inflight.drain = recorded("drain", gateway.chat.inflight.drain)  # type: ignore[method-assign]
    gateway.writer.stop = recorded("writer", gateway.writer.stop)  # type: ignore[method-assign]
    gateway.quotas.stop = recorded("quotas", gateway.quotas.stop)  # type: ignore[method-assign]
    gateway.observability.flush = recorded("rollups", gateway.observability.flush)  # type: ignore[method-assign]
    gateway.upstream.close = recorded("upstream", gateway.upstream.close)  # type: ignore[method-assign]

    replies = asyncio.run(lifespan(app, "startup", "shutdown"))
    assert [r["type"] for r in replies] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert app.startup_error is None
    # (The rollup loop flushes once more as it ends; the final flush comes after the writer.)
    assert order[order.index("loops") :] == [
        "loops",
        "drain",
        "writer",
        "quotas",
        "rollups",
        "upstream",
    ]
    db.dispose()
