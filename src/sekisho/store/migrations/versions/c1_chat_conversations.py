"""The chat app: conversations, messages and invitations; the user id on request-log rows.

Revision ID: c1_chat_conversations
Revises: 0004_lifecycle, 0005_observability
"""

import sqlalchemy as sa
from alembic import op

revision = "c1_chat_conversations"
down_revision = ("0004_lifecycle", "0005_observability")


def _ts(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "chat_conversations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("alias", sa.String(200), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_chat_conversations"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_chat_conversations_tenant_id_tenants"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_chat_conversations_user_id_users"
        ),
    )
    op.create_index(
        "ix_chat_conversations_owner",
        "chat_conversations",
        ["tenant_id", "user_id", "updated_at"],
    )
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("conversation_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("alias", sa.String(200)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(64)),
        sa.Column("request_id", sa.String(40)),
        sa.Column("guardrail", sa.JSON),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_chat_messages"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["chat_conversations.id"],
            name="fk_chat_messages_conversation_id_chat_conversations",
        ),
    )
    op.create_index(
        "ix_chat_messages_conversation_seq",
        "chat_messages",
        ["conversation_id", "seq"],
        unique=True,
    )
    op.create_table(
        "chat_invitations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("ended_reason", sa.String(16)),
        sa.PrimaryKeyConstraint("id", name="pk_chat_invitations"),
        sa.UniqueConstraint("token_hash", name="uq_chat_invitations_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_chat_invitations_user_id_users"
        ),
    )
    with op.batch_alter_table("request_log") as batch:
        batch.add_column(sa.Column("user_id", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("request_log") as batch:
        batch.drop_column("user_id")
    op.drop_table("chat_invitations")
    op.drop_index("ix_chat_messages_conversation_seq", table_name="chat_messages")
    op.drop_table("chat_messages")
    op.drop_index("ix_chat_conversations_owner", table_name="chat_conversations")
    op.drop_table("chat_conversations")
