"""Run the gateway under uvicorn (uvloop + httptools)."""

from __future__ import annotations

import logging

import uvicorn

from sekisho.http.app import create_app
from sekisho.settings import Settings
from sekisho.store.db import Database
from sekisho.store.migrate import current_revision, head_revisions, is_current


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


def run_server(settings: Settings, *, host: str, port: int, db: Database | None = None) -> None:
    from sekisho.cli.context import CommandError

    db = db or Database(settings.database_url)
    try:
        check_schema(db)
    except SchemaOutOfDate as exc:
        raise CommandError(str(exc)) from exc
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(settings, db=db)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
    print(f"Sekisho gateway listening on http://{host}:{port}", flush=True)
    uvicorn.Server(config).run()
