"""Tables of the observability feature: request rollups, probe results, spike alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sekisho.store.base import Base, UTCDateTime


class RequestRollup(Base):
    """One replica's totals for one bucket of one dimension (alias, tenant or provider).

    The `provider` dimension counts upstream *attempts* (internal); `codes`
    then holds attempt outcomes instead of error codes. Each replica writes
    only its own rows, so flushing needs no cross-replica locking; readers sum.
    """

    __tablename__ = "request_rollup"

    bucket: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    dim: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    replica: Mapped[str] = mapped_column(String(64), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    s2xx: Mapped[int] = mapped_column(Integer, default=0)
    s4xx: Mapped[int] = mapped_column(Integer, default=0)
    s5xx: Mapped[int] = mapped_column(Integer, default=0)
    s429: Mapped[int] = mapped_column(Integer, default=0)
    s502: Mapped[int] = mapped_column(Integer, default=0)
    codes: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    latency_sum: Mapped[float] = mapped_column(Float, default=0.0)
    latency_hist: Mapped[list[int]] = mapped_column(JSON, default=list)
    ttfb_count: Mapped[int] = mapped_column(Integer, default=0)
    ttfb_sum: Mapped[float] = mapped_column(Float, default=0.0)
    ttfb_hist: Mapped[list[int]] = mapped_column(JSON, default=list)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_request_rollup_dim_key_bucket", "dim", "key", "bucket"),)


class ProbeResult(Base):
    """One synthetic probe: straight to a provider (internal) or end to end through an alias."""

    __tablename__ = "probe_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(8))  # provider | alias
    target: Mapped[str] = mapped_column(String(200))
    ok: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32))
    latency_ms: Mapped[float] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(Text, default="")  # internal: may name a provider

    __table_args__ = (Index("ix_probe_results_kind_target_ts", "kind", "target", "ts"),)


class ObserveAlert(Base):
    """A spike alert of one alias: firing until the rate normalizes."""

    __tablename__ = "observe_alerts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    alias: Mapped[str] = mapped_column(String(200), index=True)
    rule: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # firing | resolved
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rate: Mapped[float] = mapped_column(Float)
    peak_rate: Mapped[float] = mapped_column(Float)
    baseline_rate: Mapped[float] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
