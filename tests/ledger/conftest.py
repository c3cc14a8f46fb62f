"""Ledger fixtures: a PostgreSQL-only database (TRUNCATE, multi-process tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sekisho.store.db import Database
from tests.support.databases import fresh_postgres_database
from tests.support.gateway import migrated


@pytest.fixture
def pg_db() -> Iterator[Database]:
    """A fresh, migrated PostgreSQL database of its own (dropped afterwards)."""
    with fresh_postgres_database() as url:
        db = migrated(url)
        yield db
        db.dispose()
