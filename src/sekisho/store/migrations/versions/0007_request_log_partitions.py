"""PostgreSQL: the request log partitioned by day (retention drops whole days).

Revision ID: 0007_request_log_partitions
Revises: 0006_quotas_usage

The table is rebuilt with `LIKE`, so it keeps whatever columns other migrations gave it; the
primary key becomes (id, ts), since a partitioned table's keys must include the partition
column. Existing rows are copied into one partition per day they cover. SQLite: unchanged.
"""

from datetime import UTC, datetime, timedelta

from alembic import op
from sqlalchemy import text

revision = "0007_request_log_partitions"
down_revision = "0006_quotas_usage"

INDEXES = {
    "ix_request_log_ts": "(ts)",
    "ix_request_log_tenant_ts": "(tenant_id, ts)",
    "ix_request_log_alias_ts": "(alias, ts)",
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE request_log RENAME TO request_log_unpartitioned")
    op.execute(
        "CREATE TABLE request_log (LIKE request_log_unpartitioned INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (ts)"
    )
    op.execute("CREATE TABLE request_log_default PARTITION OF request_log DEFAULT")
    first = bind.execute(text("SELECT min(ts) FROM request_log_unpartitioned")).scalar()
    today = datetime.now(UTC).date()
    day = first.astimezone(UTC).date() if first is not None else today
    while day <= today + timedelta(days=3):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        op.execute(
            f'CREATE TABLE "request_log_p{day:%Y%m%d}" PARTITION OF request_log FOR VALUES '
            f"FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')"
        )
        day += timedelta(days=1)
    op.execute("INSERT INTO request_log SELECT * FROM request_log_unpartitioned")
    op.execute("DROP TABLE request_log_unpartitioned")
    op.execute("ALTER TABLE request_log ADD CONSTRAINT pk_request_log PRIMARY KEY (id, ts)")
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON request_log {columns}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE request_log RENAME TO request_log_partitioned")
    op.execute("CREATE TABLE request_log (LIKE request_log_partitioned INCLUDING DEFAULTS)")
    op.execute("INSERT INTO request_log SELECT * FROM request_log_partitioned")
    op.execute("DROP TABLE request_log_partitioned")
    op.execute("ALTER TABLE request_log ADD CONSTRAINT pk_request_log PRIMARY KEY (id)")
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON request_log {columns}")
