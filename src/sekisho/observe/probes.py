"""Synthetic probes: a tiny request straight to each provider, and one per alias end to end.

The provider probe bypasses routing (it asks "is the upstream up?"); the
alias probe goes through the real chat core as the internal probe tenant
(it asks "can a customer be served?"). Comparing the two is what tells
"upstream is down" from "we are down".
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.orm import Session

from sekisho.adapters import adapter_for
from sekisho.chat.core import ChatService
from sekisho.chat.principal import Principal
from sekisho.chat.request import validate_chat_request
from sekisho.chat.upstream import AttemptTimeouts, UpstreamClient, UpstreamFailure
from sekisho.errors import SekishoError
from sekisho.ids import request_id
from sekisho.matrix import Matrix
from sekisho.observe.tables import ProbeResult
from sekisho.routing.outcome import classify_failure, classify_status
from sekisho.tenancy.snapshot import TenantSnapshot

PROBE_TENANT = TenantSnapshot(
    id="sekisho-probe",
    name="sekisho-probe",
    state="active",
    sovereignty=None,
    # Internal and never a customer: it may probe every alias, gated ones included
    # (the planner still applies each alias's own sovereignty requirement).
    china_gated_access=True,
    allowed_aliases=None,
)
PROBE_BODY = {"messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    kind: str  # provider | alias
    target: str
    ok: bool
    status: int | None
    outcome: str
    latency_ms: float
    detail: str = ""


def probe_model(matrix: Matrix, provider_id: str) -> str | None:
    """The upstream model a provider probe asks for: the first route naming the provider."""
    for alias in matrix.aliases.values():
        if alias.kind != "chat":
            continue  # the probe is a chat completion; an embedding model would refuse it
        for route in alias.routes:
            if route.provider == provider_id:
                return route.model
    return None


async def probe_provider(
    upstream: UpstreamClient, matrix: Matrix, provider_id: str, api_key: str, timeout_s: float
) -> ProbeOutcome | None:
    """One direct request to a provider; None when no alias uses it."""
    provider = matrix.providers[provider_id]
    model = probe_model(matrix, provider_id)
    if model is None:
        return None
    adapter = adapter_for(provider.kind)
    upreq = adapter.build_request(
        {"model": model, **PROBE_BODY}, upstream_model=model, api_key=api_key, stream=False
    )
    limit = min(timeout_s, provider.timeout_s)
    timeouts = AttemptTimeouts(min(provider.connect_timeout_s, limit), limit, limit)
    t0 = time.monotonic()
    try:
        response = await upstream.send(
            provider.base_url + upreq.path, upreq.headers, upreq.body, timeouts
        )
        try:
            data = await response.read()
        finally:
            response.close()
    except UpstreamFailure as failure:
        outcome = classify_failure(failure.kind)
        return ProbeOutcome(
            "provider", provider_id, False, None, outcome.kind, _ms(t0), failure.detail[:300]
        )
    outcome = classify_status(response.status)
    detail = "" if outcome.ok else adapter.error_detail(response.status, data[:4096])[:300]
    return ProbeOutcome(
        "provider", provider_id, outcome.ok, response.status, outcome.kind, _ms(t0), detail
    )


async def probe_alias(chat: ChatService, alias: str, timeout_s: float) -> ProbeOutcome:
    """One request through the chat core as the probe tenant (logged with source 'probe')."""
    principal = Principal(tenant=PROBE_TENANT, source="probe")
    req = validate_chat_request({"model": alias, **PROBE_BODY})
    t0 = time.monotonic()
    try:
        result = await asyncio.wait_for(chat.complete(principal, req, request_id()), timeout_s)
    except SekishoError as err:
        return ProbeOutcome("alias", alias, False, err.status, err.code, _ms(t0), err.message)
    except TimeoutError:
        return ProbeOutcome("alias", alias, False, None, "timeout", _ms(t0), "probe timed out")
    return ProbeOutcome("alias", alias, result.status == 200, result.status, "ok", _ms(t0))


def _ms(t0: float) -> float:
    return round((time.monotonic() - t0) * 1000, 1)


def store_results(
    session: Session, results: list[ProbeOutcome], now: datetime, retention_s: float
) -> None:
    session.add_all(
        ProbeResult(
            ts=now,
            kind=r.kind,
            target=r.target,
            ok=r.ok,
            status=r.status,
            outcome=r.outcome,
            latency_ms=r.latency_ms,
            detail=r.detail,
        )
        for r in results
    )
    session.execute(
        delete(ProbeResult).where(ProbeResult.ts < now - timedelta(seconds=retention_s))
    )


@dataclass(frozen=True, slots=True)
class ProbeSummary:
    """Recent probes of one target: how many, how many failed, the latest."""

    kind: str
    target: str
    total: int
    failed: int
    last_ok: bool | None
    last_at: datetime | None
    last_outcome: str | None
    last_latency_ms: float | None

    @property
    def failing(self) -> bool:
        """The latest probe failed, or at least half of the recent ones did."""
        return self.total > 0 and (self.last_ok is False or self.failed * 2 >= self.total)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "target": self.target,
            "total": self.total,
            "failed": self.failed,
            "last_ok": self.last_ok,
            "last_at": self.last_at.isoformat() if self.last_at else None,
            "last_outcome": self.last_outcome,
            "last_latency_ms": self.last_latency_ms,
        }


def summaries(
    session: Session, kind: str, targets: list[str], since: datetime
) -> dict[str, ProbeSummary]:
    """Per target, the probes since `since` (one query, whatever the number of targets)."""
    return summaries_of(session, {kind: targets}, since)[kind]


def summaries_of(
    session: Session, wanted: dict[str, list[str]], since: datetime
) -> dict[str, dict[str, ProbeSummary]]:
    """`summaries` of several kinds at once (kind -> targets), still one query."""
    failed = case((ProbeResult.ok.is_(False), 1), else_=0)
    per_target = (ProbeResult.kind, ProbeResult.target)
    scope = or_(
        *(
            and_(ProbeResult.kind == kind, ProbeResult.target.in_(targets))
            for kind, targets in wanted.items()
        )
    )
    ranked = (
        select(
            ProbeResult.kind,
            ProbeResult.target,
            ProbeResult.ok,
            ProbeResult.ts,
            ProbeResult.outcome,
            ProbeResult.latency_ms,
            func.count().over(partition_by=per_target).label("total"),
            func.sum(failed).over(partition_by=per_target).label("failed"),
            func.row_number()
            .over(
                partition_by=per_target,
                order_by=(ProbeResult.ts.desc(), ProbeResult.id.desc()),
            )
            .label("rn"),
        )
        .where(scope, ProbeResult.ts >= since)
        .subquery()
    )
    latest = {
        (row.kind, row.target): row
        for row in session.execute(select(ranked).where(ranked.c.rn == 1)).all()
    }
    out: dict[str, dict[str, ProbeSummary]] = {kind: {} for kind in wanted}
    for kind, targets in wanted.items():
        for target in targets:
            out[kind][target] = _summary(kind, target, latest.get((kind, target)))
    return out


def _summary(kind: str, target: str, last: Any) -> ProbeSummary:
    return ProbeSummary(
        kind,
        target,
        int(last.total) if last else 0,
        int(last.failed or 0) if last else 0,
        bool(last.ok) if last else None,
        last.ts if last else None,
        last.outcome if last else None,
        last.latency_ms if last else None,
    )
