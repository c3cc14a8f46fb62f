"""Two-step suspension: requests waiting for the matching owner's sign-off.

Revision ID: b1_suspension_requests
Revises: 0004_lifecycle
"""

import sqlalchemy as sa
from alembic import op

revision = "b1_suspension_requests"
down_revision = "0004_lifecycle"


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user_fk(column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=f"fk_suspension_requests_{column}_users"
    )


def upgrade() -> None:
    op.create_table(
        "suspension_requests",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        _ts("review_at", True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(40), nullable=False),
        _ts("requested_at"),
        sa.Column("requested_via", sa.String(64)),
        sa.Column("decided_by", sa.String(40)),
        _ts("decided_at", True),
        sa.Column("decided_via", sa.String(64)),
        sa.Column("decision_note", sa.Text),
        sa.Column("suspension_id", sa.String(40)),
        sa.Column("evidence_sha256", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_suspension_requests"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_suspension_requests_tenant_id_tenants"
        ),
        _user_fk("requested_by"),
        _user_fk("decided_by"),
    )
    op.create_index("ix_suspension_requests_tenant_id", "suspension_requests", ["tenant_id"])
    op.create_index("ix_suspension_requests_state", "suspension_requests", ["state"])


def downgrade() -> None:
    op.drop_table("suspension_requests")
