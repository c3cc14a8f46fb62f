"""Core tables: tenants, users, API keys, request log.

Revision ID: 0001_core
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("sovereignty", sa.String(64)),
        sa.Column("china_gated_access", sa.Boolean, nullable=False),
        sa.Column("allowed_aliases", sa.JSON),
        sa.Column("account_owner_email", sa.String(320)),
        sa.Column("cs_email", sa.String(320)),
        _ts("created_at"),
        _ts("state_changed_at"),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("name", name="uq_tenants_name"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(40)),
        sa.Column("password_hash", sa.Text),
        sa.Column("disabled", sa.Boolean, nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_users_tenant_id_tenants"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("aliases", sa.JSON),
        _ts("created_at"),
        _ts("expires_at", True),
        _ts("revoked_at", True),
        _ts("last_used_at", True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_api_keys_tenant_id_tenants"
        ),
    )
    op.create_index("ix_api_keys_tenant_id", "api_keys", ["tenant_id"])
    op.create_table(
        "request_log",
        sa.Column("id", sa.String(40), nullable=False),
        _ts("ts"),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("tenant_id", sa.String(40)),
        sa.Column("key_id", sa.String(40)),
        sa.Column("alias", sa.String(200)),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("error_code", sa.String(64)),
        sa.Column("provider", sa.String(200)),
        sa.Column("upstream_model", sa.String(200)),
        sa.Column("attempts", sa.JSON, nullable=False),
        sa.Column("plan", sa.JSON),
        sa.Column("ttfb_ms", sa.Float),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("prompt_tokens", sa.Integer),
        sa.Column("completion_tokens", sa.Integer),
        sa.Column("total_tokens", sa.Integer),
        sa.Column("guardrail", sa.JSON),
        sa.PrimaryKeyConstraint("id", name="pk_request_log"),
    )
    op.create_index("ix_request_log_ts", "request_log", ["ts"])
    op.create_index("ix_request_log_tenant_ts", "request_log", ["tenant_id", "ts"])
    op.create_index("ix_request_log_alias_ts", "request_log", ["alias", "ts"])


def downgrade() -> None:
    for table in ("request_log", "api_keys", "users", "tenants"):
        op.drop_table(table)
