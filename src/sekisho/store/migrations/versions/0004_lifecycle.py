"""Tenant lifecycle: suspensions, sessions, the notification outbox, evidence bundles.

Revision ID: 0004_lifecycle
Revises: 0003_overrides_tokens
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_lifecycle"
down_revision = "0003_overrides_tokens"


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user_fk(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["users.id"], name=f"fk_{table}_{column}_users")


def upgrade() -> None:
    op.create_table(
        "tenant_suspensions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(40), nullable=False),
        sa.Column("authorized_by", sa.String(40), nullable=False),
        _ts("created_at"),
        _ts("review_at"),
        sa.Column("evidence_sha256", sa.String(64)),
        _ts("ended_at", True),
        sa.Column("ended_kind", sa.String(16)),
        sa.Column("ended_requested_by", sa.String(40)),
        sa.Column("ended_authorized_by", sa.String(40)),
        sa.Column("end_note", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_tenant_suspensions"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_tenant_suspensions_tenant_id_tenants"
        ),
        _user_fk("requested_by", "tenant_suspensions"),
        _user_fk("authorized_by", "tenant_suspensions"),
        _user_fk("ended_requested_by", "tenant_suspensions"),
        _user_fk("ended_authorized_by", "tenant_suspensions"),
    )
    op.create_index("ix_tenant_suspensions_tenant_id", "tenant_suspensions", ["tenant_id"])
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(40)),
        _ts("created_at"),
        _ts("last_seen_at"),
        _ts("expires_at"),
        _ts("revoked_at", True),
        sa.Column("revoked_reason", sa.String(64)),
        sa.Column("client_ip", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_user_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_user_sessions_token_hash"),
        _user_fk("user_id", "user_sessions"),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.create_index("ix_user_sessions_tenant_id", "user_sessions", ["tenant_id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("destination", sa.String(500), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("tenant_id", sa.String(40)),
        sa.Column("dedupe_key", sa.String(300)),
        _ts("created_at"),
        _ts("next_attempt_at"),
        sa.Column("attempts", sa.Integer, nullable=False),
        _ts("delivered_at", True),
        _ts("failed_at", True),
        sa.Column("last_error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("dedupe_key", name="uq_notifications_dedupe_key"),
    )
    op.create_index("ix_notifications_next_attempt_at", "notifications", ["next_attempt_at"])
    op.create_table(
        "evidence_bundles",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(40)),
        sa.Column("alias", sa.String(200)),
        _ts("window_start"),
        _ts("window_end"),
        sa.Column("manifest", sa.Text, nullable=False),
        sa.Column("content", sa.LargeBinary),
        _ts("created_at"),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evidence_bundles"),
    )
    op.create_index("ix_evidence_bundles_sha256", "evidence_bundles", ["sha256"])


def downgrade() -> None:
    for table in ("evidence_bundles", "notifications", "user_sessions", "tenant_suspensions"):
        op.drop_table(table)
