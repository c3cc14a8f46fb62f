"""Record each distinct provider matrix that is loaded, by content hash, in the ledger."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sekisho import audit
from sekisho.actor import Actor
from sekisho.matrix import Matrix
from sekisho.store.models import MatrixVersion


def record_matrix_load(session: Session, matrix: Matrix, actor: Actor, source: str) -> bool:
    """True when this matrix version is new (and was recorded); replicas race safely."""
    values = {
        "hash": matrix.content_hash,
        "first_loaded_at": datetime.now(UTC),
        "providers": len(matrix.providers),
        "aliases": len(matrix.aliases),
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = session.execute(
        insert(MatrixVersion).values(**values).on_conflict_do_nothing(index_elements=["hash"])
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    audit.record(
        session,
        actor,
        "matrix.load",
        ("matrix", matrix.content_hash),
        details={
            "sha256": matrix.content_hash,
            "source": source,
            "providers": sorted(matrix.providers),
            "aliases": sorted(matrix.aliases),
        },
    )
    return True
