"""Shared fixtures: real databases, the provider simulator, a running gateway."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from tests.support.databases import fresh_postgres_database, sqlite_url
from tests.support.gateway import migrated


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database of each backend (store tests run on both)."""
    if request.param == "sqlite":
        db = migrated(sqlite_url(tmp_path))
        yield db
        db.dispose()
    else:
        with fresh_postgres_database() as url:
            db = migrated(url)
            yield db
            db.dispose()
