"""Audit ledger: entries, heads, checkpoints, and the triggers that refuse rewrites.

Revision ID: 0002_ledger
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_ledger"
down_revision = "0001_core"

APPEND_ONLY = ("ledger_entries", "ledger_checkpoints")

PG_FUNCTIONS = [
    """
    CREATE OR REPLACE FUNCTION sekisho_ledger_refuse() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'sekisho ledger: % on % is refused (append-only)', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION sekisho_ledger_head_forward() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.ledger <> OLD.ledger OR NEW.size <> OLD.size + 1 THEN
            RAISE EXCEPTION 'sekisho ledger: head of % may only advance by one', OLD.ledger
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
]


def _ts(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("ledger", sa.String(80), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        _ts("time"),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("prev", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("ledger", "seq", name="pk_ledger_entries"),
        sa.UniqueConstraint("ledger", "prev", name="uq_ledger_entries_ledger_prev"),
    )
    op.create_table(
        "ledger_heads",
        sa.Column("ledger", sa.String(80), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("last_hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("ledger", name="pk_ledger_heads"),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("ledger", sa.String(80), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("ledger", "size", name="pk_ledger_checkpoints"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def _postgres_triggers() -> None:
    for ddl in PG_FUNCTIONS:
        op.execute(ddl)
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_no_rewrite BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION sekisho_ledger_refuse()"
        )
        # Row triggers do not fire on TRUNCATE.
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION sekisho_ledger_refuse()"
        )
    op.execute(
        "CREATE TRIGGER ledger_heads_no_delete BEFORE DELETE ON ledger_heads "
        "FOR EACH ROW EXECUTE FUNCTION sekisho_ledger_refuse()"
    )
    op.execute(
        "CREATE TRIGGER ledger_heads_no_truncate BEFORE TRUNCATE ON ledger_heads "
        "FOR EACH STATEMENT EXECUTE FUNCTION sekisho_ledger_refuse()"
    )
    op.execute(
        "CREATE TRIGGER ledger_heads_forward BEFORE UPDATE ON ledger_heads "
        "FOR EACH ROW EXECUTE FUNCTION sekisho_ledger_head_forward()"
    )


def _sqlite_triggers() -> None:
    for table in APPEND_ONLY:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'sekisho ledger: {event} on {table} is refused "
                "(append-only)'); END"
            )
    op.execute(
        "CREATE TRIGGER ledger_heads_no_delete BEFORE DELETE ON ledger_heads "
        "BEGIN SELECT RAISE(ABORT, 'sekisho ledger: DELETE on ledger_heads is refused'); END"
    )
    op.execute(
        "CREATE TRIGGER ledger_heads_forward BEFORE UPDATE ON ledger_heads "
        "WHEN NEW.ledger <> OLD.ledger OR NEW.size <> OLD.size + 1 "
        "BEGIN SELECT RAISE(ABORT, 'sekisho ledger: head may only advance by one'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in (*APPEND_ONLY, "ledger_heads"):
            op.execute(f"DROP TABLE {table}")  # drops its triggers with it
        op.execute("DROP FUNCTION sekisho_ledger_refuse()")
        op.execute("DROP FUNCTION sekisho_ledger_head_forward()")
    else:
        for table in (*APPEND_ONLY, "ledger_heads"):
            op.execute(f"DROP TABLE {table}")
