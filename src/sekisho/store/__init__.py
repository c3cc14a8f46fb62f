"""Persistence: SQLAlchemy models, the database handle and migrations."""

from sekisho.store.db import Database
from sekisho.store.migrate import migrate

__all__ = ["Database", "migrate"]
