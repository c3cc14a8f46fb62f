"""Guardrails: one row per finding (never the value), and each tenant's chosen policy.

Revision ID: b7_guardrail_events
Revises: 0005_observability
"""

import sqlalchemy as sa
from alembic import op

revision = "b7_guardrail_events"
down_revision = "0005_observability"


def upgrade() -> None:
    op.create_table(
        "guardrail_events",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(40)),
        sa.Column("key_id", sa.String(40)),
        sa.Column("user_id", sa.String(40)),
        sa.Column("request_id", sa.String(40), nullable=False),
        sa.Column("alias", sa.String(200)),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("check", sa.String(32), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("enforced", sa.Boolean, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("location", sa.String(200), nullable=False),
        sa.Column("span_start", sa.Integer),
        sa.Column("span_end", sa.Integer),
        sa.Column("score", sa.Float),
        sa.Column("value_hash", sa.String(64)),
        sa.Column("policy", sa.String(100), nullable=False),
        sa.Column("policy_version", sa.String(120), nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_guardrail_events"),
    )
    op.create_index("ix_guardrail_events_ts", "guardrail_events", ["ts"])
    op.create_index("ix_guardrail_events_tenant_ts", "guardrail_events", ["tenant_id", "ts"])
    op.create_index("ix_guardrail_events_alias_ts", "guardrail_events", ["alias", "ts"])
    op.create_index("ix_guardrail_events_request", "guardrail_events", ["request_id"])
    op.create_table(
        "tenant_guardrail_policies",
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("policy", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_guardrail_policies"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_tenant_guardrail_policies_tenant_id_tenants",
        ),
    )


def downgrade() -> None:
    op.drop_table("tenant_guardrail_policies")
    op.drop_table("guardrail_events")
