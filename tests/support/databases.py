"""Real databases for tests: a fresh SQLite file or a fresh PostgreSQL database.

PostgreSQL is required: a test that asks for it fails (never skips) when the
server at SEKISHO_TEST_PG_URL does not answer, as CI demands.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("SEKISHO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SEKISHO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _admin_conninfo() -> str:
    url = make_url(PG_ADMIN_URL)
    return (
        f"host={url.host or '127.0.0.1'} port={url.port or 5432} "
        f"user={url.username or 'postgres'} dbname={url.database or 'test'}"
    )


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it afterwards."""
    name = f"sekisho_t_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is required for this test and does not answer at {PG_ADMIN_URL}: {exc}"
        ) from exc
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'sekisho.db'}"
