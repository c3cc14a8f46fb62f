"""Quotas and usage: per-tenant quota overrides, daily usage per tenant, key and alias.

Revision ID: 0006_quotas_usage
Revises: 0005_observability
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_quotas_usage"
down_revision = "0005_observability"


def upgrade() -> None:
    op.create_table(
        "tenant_quotas",
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("limits", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(320), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_tenant_quotas_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_quotas"),
    )
    op.create_table(
        "usage_daily",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("replica", sa.String(64), nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger, nullable=False),
        sa.Column("completion_tokens", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "tenant_id", "key_id", "alias", "replica", name="pk_usage_daily"
        ),
    )
    op.create_index("ix_usage_daily_tenant_day", "usage_daily", ["tenant_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_usage_daily_tenant_day", table_name="usage_daily")
    op.drop_table("usage_daily")
    op.drop_table("tenant_quotas")
