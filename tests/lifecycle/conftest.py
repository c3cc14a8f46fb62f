"""A migrated PostgreSQL database with one user per platform role, shared by a module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sekisho.settings import Settings
from sekisho.store.db import Database
from tests.lifecycle.support import make_people
from tests.support.databases import fresh_postgres_database
from tests.support.gateway import gateway_settings, migrated


@dataclass
class Store:
    db: Database
    settings: Settings
    people: dict[str, str]
    state: Path


@pytest.fixture(scope="module")
def pg_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    state = tmp_path_factory.mktemp("lifecycle")
    with fresh_postgres_database() as url:
        db = migrated(url)
        settings = gateway_settings("http://127.0.0.1:9", state, url)
        yield Store(db, settings, make_people(db, passwords=False), state)
        db.dispose()
