"""Alias overrides, matrix versions, operator tokens, replica status.

Revision ID: 0003_overrides_tokens
Revises: 0002_ledger
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_overrides_tokens"
down_revision = "0002_ledger"


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "alias_overrides",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("provider", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("reverted_at", True),
        sa.Column("reverted_by", sa.String(320)),
        _ts("expiry_recorded_at", True),
        sa.Column("incident_id", sa.String(40)),
        sa.PrimaryKeyConstraint("id", name="pk_alias_overrides"),
    )
    op.create_index("ix_alias_overrides_alias", "alias_overrides", ["alias"])
    op.create_table(
        "matrix_versions",
        sa.Column("hash", sa.String(64), nullable=False),
        _ts("first_loaded_at"),
        sa.Column("providers", sa.Integer, nullable=False),
        sa.Column("aliases", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("hash", name="pk_matrix_versions"),
    )
    op.create_table(
        "operator_tokens",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _ts("created_at"),
        _ts("expires_at", True),
        _ts("revoked_at", True),
        sa.PrimaryKeyConstraint("id", name="pk_operator_tokens"),
        sa.UniqueConstraint("prefix", name="uq_operator_tokens_prefix"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_operator_tokens_user_id_users"),
    )
    op.create_index("ix_operator_tokens_user_id", "operator_tokens", ["user_id"])
    op.create_table(
        "replica_status",
        sa.Column("replica_id", sa.String(64), nullable=False),
        _ts("started_at"),
        _ts("heartbeat_at"),
        sa.Column("matrix_hash", sa.String(64), nullable=False),
        sa.Column("circuits", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("replica_id", name="pk_replica_status"),
    )


def downgrade() -> None:
    for table in ("replica_status", "operator_tokens", "matrix_versions", "alias_overrides"):
        op.drop_table(table)
