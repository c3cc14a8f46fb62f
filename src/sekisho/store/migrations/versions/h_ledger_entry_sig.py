"""Ledger entries carry the gateway's Ed25519 signature (issue 10 item 8).

Revision ID: h_ledger_entry_sig
Revises: 0005_observability

Existing entries stay unsigned (the table refuses UPDATE); verification accepts
an unsigned entry only where a signed checkpoint already covers it, so run
`sekisho ledger checkpoint` before upgrading.
"""

import sqlalchemy as sa
from alembic import op

revision = "h_ledger_entry_sig"
down_revision = "0005_observability"


def upgrade() -> None:
    op.add_column("ledger_entries", sa.Column("sig", sa.LargeBinary(64), nullable=True))


def downgrade() -> None:
    op.drop_column("ledger_entries", "sig")
