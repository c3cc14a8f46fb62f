"""Observability and incidents: request rollups, probe results, alerts, incidents.

Revision ID: 0005_observability
Revises: 0003_overrides_tokens
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_observability"
down_revision = "0003_overrides_tokens"


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "request_rollup",
        _ts("bucket"),
        sa.Column("dim", sa.String(8), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("replica", sa.String(64), nullable=False),
        *[
            sa.Column(c, sa.Integer, nullable=False)
            for c in ("requests", "s2xx", "s4xx", "s5xx", "s429", "s502")
        ],
        sa.Column("codes", sa.JSON, nullable=False),
        sa.Column("latency_sum", sa.Float, nullable=False),
        sa.Column("latency_hist", sa.JSON, nullable=False),
        sa.Column("ttfb_count", sa.Integer, nullable=False),
        sa.Column("ttfb_sum", sa.Float, nullable=False),
        sa.Column("ttfb_hist", sa.JSON, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("bucket", "dim", "key", "replica", name="pk_request_rollup"),
    )
    op.create_index("ix_request_rollup_dim_key_bucket", "request_rollup", ["dim", "key", "bucket"])
    op.create_table(
        "probe_results",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        _ts("ts"),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_probe_results"),
    )
    op.create_index("ix_probe_results_kind_target_ts", "probe_results", ["kind", "target", "ts"])
    op.create_table(
        "observe_alerts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _ts("fired_at"),
        _ts("resolved_at", True),
        _ts("last_evaluated_at"),
        sa.Column("rate", sa.Float, nullable=False),
        sa.Column("peak_rate", sa.Float, nullable=False),
        sa.Column("baseline_rate", sa.Float, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_observe_alerts"),
    )
    op.create_index("ix_observe_alerts_alias", "observe_alerts", ["alias"])
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("aliases", sa.JSON, nullable=False),
        _ts("eta", True),
        _ts("opened_at"),
        sa.Column("opened_by", sa.String(320), nullable=False),
        _ts("resolved_at", True),
        sa.Column("resolved_by", sa.String(320)),
        sa.Column("impact", sa.JSON),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(40), nullable=False),
        _ts("ts"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("public", sa.Boolean, nullable=False),
        sa.Column("author", sa.String(320), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("details", sa.JSON),
        sa.PrimaryKeyConstraint("id", name="pk_incident_events"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_incident_events_incident_id_incidents"
        ),
    )
    op.create_index("ix_incident_events_incident_id", "incident_events", ["incident_id"])


def downgrade() -> None:
    for table in (
        "incident_events",
        "incidents",
        "observe_alerts",
        "probe_results",
        "request_rollup",
    ):
        op.drop_table(table)
