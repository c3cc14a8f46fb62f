"""Request log: `usage_estimated`, and the dead-letter table for rows the store refused.

Revision ID: c1_request_log_dead_letter
Revises: 0005_observability
"""

import sqlalchemy as sa
from alembic import op

revision = "c1_request_log_dead_letter"
down_revision = "0005_observability"


def upgrade() -> None:
    op.add_column(
        "request_log",
        sa.Column("usage_estimated", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "request_log_dead_letter",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("tenant_id", sa.String(40), nullable=True),
        sa.Column("row", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_request_log_dead_letter_failed_at", "request_log_dead_letter", ["failed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_request_log_dead_letter_failed_at", "request_log_dead_letter")
    op.drop_table("request_log_dead_letter")
    op.drop_column("request_log", "usage_estimated")
