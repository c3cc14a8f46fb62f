"""Run the Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from sekisho.store.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revisions() -> frozenset[str]:
    """Every head of the migration graph (feature branches may be merged later)."""
    return frozenset(ScriptDirectory.from_config(_config()).get_heads())


def current_revisions(db: Database) -> frozenset[str]:
    with db.engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())


def current_revision(db: Database) -> str | None:
    """The database's revision(s) as one readable string, or None when empty."""
    revs = current_revisions(db)
    return "+".join(sorted(revs)) if revs else None


def is_current(db: Database) -> bool:
    return current_revisions(db) == head_revisions()


def migrate(db: Database) -> str | None:
    """Bring the database to the newest schema; returns the revision reached."""
    cfg = _config()
    with db.engine.connect().execution_options(sekisho_write=True) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
        conn.commit()
    return current_revision(db)
