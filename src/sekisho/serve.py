"""Run the gateway under uvicorn (uvloop + httptools)."""

from __future__ import annotations

import logging
import socket

import uvicorn

from sekisho.http.app import create_app
from sekisho.settings import Settings
from sekisho.store.db import Database
from sekisho.store.migrate import current_revision, head_revisions, is_current
from sekisho.workers import bind_socket, supervise


class SchemaOutOfDate(Exception):
    pass


def check_schema(db: Database) -> None:
    """Refuse to serve on a database that `sekisho migrate` has not brought up to date."""
    if not is_current(db):
        expected = "+".join(sorted(head_revisions()))
        raise SchemaOutOfDate(
            f"database schema is at {current_revision(db) or 'nothing'}, expected {expected}: "
            "run 'sekisho migrate'"
        )


def run_server(
    settings: Settings, *, host: str, port: int, db: Database | None = None, workers: int = 1
) -> int:
    from sekisho.cli.context import CommandError

    checked = db or Database(settings.database_url)
    try:
        check_schema(checked)
    except SchemaOutOfDate as exc:
        raise CommandError(str(exc)) from exc
    if workers > 1:
        checked.dispose()  # no connection crosses the fork
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sock = bind_socket(host, port)  # first: a taken port fails before anything starts

    def serve_one(listener: socket.socket) -> None:
        app = create_app(settings, db=checked if workers == 1 else Database(settings.database_url))
        config = uvicorn.Config(
            app,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=10,
        )
        uvicorn.Server(config).run(sockets=[listener])

    print(
        f"Sekisho gateway listening on http://{host}:{port}"
        + (f" with {workers} workers" if workers > 1 else ""),
        flush=True,
    )
    if workers == 1:
        serve_one(sock)
        return 0
    return supervise(sock, workers, serve_one)
