"""Core tables: tenants, users, API keys and the request log.

Later features declare their own tables next to their code on the same
`Base` (the ledger in `sekisho.ledger.tables`), each with its own migration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sekisho.store.base import Base, UTCDateTime

TENANT_STATES = ("active", "suspended", "offboarding", "offboarded")
PLATFORM_ROLES = ("admin", "operator", "billing_owner", "legal_owner", "security_owner", "auditor")
ROLES = (*PLATFORM_ROLES, "member")


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="active")
    sovereignty: Mapped[str | None] = mapped_column(String(64))
    china_gated_access: Mapped[bool] = mapped_column(Boolean, default=False)
    # None: every alias of the matrix; a list: only those.
    allowed_aliases: Mapped[list[str] | None] = mapped_column(JSON)
    account_owner_email: Mapped[str | None] = mapped_column(String(320))
    cs_email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Bumped on every change that must reach every replica's cache.
    version: Mapped[int] = mapped_column(Integer, default=1)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"))
    password_hash: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    aliases: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RequestLog(Base):
    """One row per API or chat request; the basis of dashboards and evidence."""

    __tablename__ = "request_log"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(16), default="api")
    tenant_id: Mapped[str | None] = mapped_column(String(40))
    key_id: Mapped[str | None] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(String(40))  # chat member (migration c1)
    alias: Mapped[str | None] = mapped_column(String(200))
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[int] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(64))
    provider: Mapped[str | None] = mapped_column(String(200))
    upstream_model: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ttfb_ms: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    total_tokens: Mapped[int | None] = mapped_column(Integer)
    usage_estimated: Mapped[bool] = mapped_column(Boolean, default=False)  # migration c1
    guardrail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_request_log_ts", "ts"),
        Index("ix_request_log_tenant_ts", "tenant_id", "ts"),
        Index("ix_request_log_alias_ts", "alias", "ts"),
    )


class AliasOverride(Base):
    """An operator's temporary drain or pin of an alias route (see routing.overrides)."""

    __tablename__ = "alias_overrides"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    alias: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    provider: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reverted_by: Mapped[str | None] = mapped_column(String(320))
    # Set once, by whichever replica first saw it expire and recorded that in the ledger.
    expiry_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    incident_id: Mapped[str | None] = mapped_column(String(40))


class MatrixVersion(Base):
    """Each distinct provider matrix ever loaded, by content hash."""

    __tablename__ = "matrix_versions"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    providers: Mapped[int] = mapped_column(Integer)
    aliases: Mapped[int] = mapped_column(Integer)


class OperatorToken(Base):
    """A bearer token for the admin API, held by a platform user; stored hashed."""

    __tablename__ = "operator_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReplicaStatus(Base):
    """Each gateway replica's heartbeat and circuit states, for `alias show`, triage and metrics."""

    __tablename__ = "replica_status"

    replica_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    matrix_hash: Mapped[str] = mapped_column(String(64))
    circuits: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


# --- Tenant lifecycle, identity, notifications, evidence (migration 0004_lifecycle) ---


class TenantSuspension(Base):
    """One suspension decision: who asked, who authorized, why, until when it is reviewed.

    Rows are never deleted; reinstatement or off-boarding closes one (`ended_*`).
    """

    __tablename__ = "tenant_suspensions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    authorized_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    review_at: Mapped[datetime] = mapped_column(UTCDateTime())
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_kind: Mapped[str | None] = mapped_column(String(16))  # reinstated | offboarding
    ended_requested_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    ended_authorized_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    end_note: Mapped[str | None] = mapped_column(Text)


class UserSession(Base):
    """A signed-in browser session; the cookie holds a secret whose SHA-256 is `token_hash`."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    tenant_id: Mapped[str | None] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64))


class Notification(Base):
    """The outbox: a webhook or e-mail to deliver, with retries, by any replica's worker."""

    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # webhook | email
    destination: Mapped[str] = mapped_column(String(500))
    event: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    tenant_id: Mapped[str | None] = mapped_column(String(40))
    dedupe_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class EvidenceBundleRecord(Base):
    """An evidence bundle taken: its hash and manifest; the bytes too for snapshots."""

    __tablename__ = "evidence_bundles"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(32))  # export | suspension_snapshot | incident
    tenant_id: Mapped[str | None] = mapped_column(String(40))
    alias: Mapped[str | None] = mapped_column(String(200))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    manifest: Mapped[str] = mapped_column(Text)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(320))


# Tables of other packages (incidents, lifecycle, observe, quotas, usage, ledger, guardrails,
# chatapp) are declared next to their code on the same `Base` and import only `sekisho.store`;
# the store layer never imports them (the import contracts in pyproject.toml enforce it).
