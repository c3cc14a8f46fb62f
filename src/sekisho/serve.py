"""Run the gateway under uvicorn (uvloop + httptools, behind the edge protocol).

Order matters: the schema is checked and the listening socket bound first,
so a taken port or an old database fails at once (non-zero exit, one line on
stderr) before any background work starts; only then does the lifespan
start the gateway's jobs. SIGTERM and SIGINT stop it gracefully.
"""

from __future__ import annotations

import gc
import logging
import socket
import sys
from typing import Any, Literal

import uvicorn

from sekisho.http.limits import EdgeLimits
from sekisho.http.protocol import edge_protocol
from sekisho.settings import Settings
from sekisho.store.db import Database
from sekisho.store.migrate import current_revision, head_revisions, is_current
from sekisho.workers import supervise

GRACEFUL_SHUTDOWN_S = 10
# How long a thread may hold the interpreter lock while the event loop waits for it
# (CPython's default is 5 ms). The store calls of the background jobs and the
# request-log writer run in worker threads; 1 ms bounds what one of them can add
# to a request that arrives meanwhile.
SWITCH_INTERVAL_S = 0.001


def settle_heap() -> None:
    """Once start-up is done: collect, then move everything alive out of the collector's sight.

    The app's modules, settings, matrix, ORM mappings and compiled SQL are hundreds
    of thousands of objects that live as long as the process. Left in the oldest
    generation, every full collection walks them all (50-100 ms, the event loop
    stopped); frozen (`gc.freeze`), a full collection only walks what was made since.
    """
    gc.collect()
    gc.freeze()


class SchemaOutOfDate(Exception):
    pass


class ServeError(Exception):
    """The gateway cannot serve; the message is the one-line reason."""


def check_schema(db: Database) -> None:
    """Refuse to serve on a database that `sekisho migrate` has not brought up to date."""
    if not is_current(db):
        expected = "+".join(sorted(head_revisions()))
        raise SchemaOutOfDate(
            f"database schema is at {current_revision(db) or 'nothing'}, expected {expected}: "
            "run 'sekisho migrate'"
        )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port, or `ServeError` saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise ServeError(f"cannot listen on {host}:{port}: {reason}") from exc
    sock.set_inheritable(True)
    return sock


def server_config(
    app: Any, settings: Settings, *, loop: Literal["uvloop", "asyncio"] = "uvloop"
) -> uvicorn.Config:
    """The uvicorn configuration the gateway runs with (also used by the tests)."""
    limits = EdgeLimits.from_settings(settings.limits)
    return uvicorn.Config(
        app,
        loop=loop,
        http=edge_protocol(limits),
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=limits.keep_alive_timeout_s,  # type: ignore[arg-type]
        h11_max_incomplete_event_size=limits.max_header_bytes,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


class _Server(uvicorn.Server):  # type: ignore[misc]
    """uvicorn's server, announcing itself once the lifespan has started and it accepts."""

    def __init__(self, config: uvicorn.Config, banner: str) -> None:
        super().__init__(config)
        self._banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            settle_heap()
            print(self._banner, flush=True)


def run_server(
    settings: Settings, *, host: str, port: int, db: Database | None = None, workers: int = 1
) -> int:
    """Serve until stopped; `workers` > 1 forks that many replicas onto the one socket.

    Raises `ServeError` (one-line reason) when it cannot; the CLI prints it.
    """
    db = db or Database(settings.database_url)
    try:
        check_schema(db)
        sock = bind_socket(host, port)
    except SchemaOutOfDate as exc:
        raise ServeError(str(exc)) from exc

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        if workers == 1:
            _serve_one(settings, db, sock, host)
            return 0
        db.dispose()  # no connection crosses the fork: each worker opens its own pool
        return supervise(
            sock, workers, lambda s: _serve_one(settings, Database(settings.database_url), s, host)
        )
    finally:
        sock.close()


def _serve_one(settings: Settings, db: Database, sock: socket.socket, host: str) -> None:
    """One replica: the app on `sock` until SIGTERM/SIGINT."""
    from sekisho.http.app import create_app

    app = create_app(settings, db=db)
    shown = f"[{host}]" if ":" in host else host
    server = _Server(
        server_config(app, settings),
        f"Sekisho gateway listening on http://{shown}:{sock.getsockname()[1]}",
    )
    try:
        server.run(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits this way when the lifespan start-up fails
        reason = app.startup_error or f"exit status {exc.code}"
        raise ServeError(f"start-up failed: {reason}") from None
    if not server.started and app.startup_error:
        raise ServeError(f"start-up failed: {app.startup_error}")
