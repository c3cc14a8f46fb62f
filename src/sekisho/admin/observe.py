"""/admin/v1 observability: series by alias / tenant / provider, alerts, probes, triage."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request

from sekisho.admin.auth import READ_OPS, AdminPrincipal, gateway_of, require
from sekisho.admin.schemas import (
    AlertList,
    AliasSeries,
    ProbeList,
    ProviderSeries,
    TenantSeries,
    TriageReport,
)
from sekisho.errors import InvalidRequest, NotFound
from sekisho.observe import alerts, triage
from sekisho.observe.probes import summaries
from sekisho.observe.series import series, series_document
from sekisho.observe.window import WindowError, parse_duration, resolve_window

router = APIRouter(tags=["observability"])
Reader = Annotated[AdminPrincipal, Depends(require(*READ_OPS))]
From = Annotated[str | None, Query(alias="from", description="ISO 8601 start (default: to - 1h)")]
To = Annotated[str | None, Query(description="ISO 8601 end (default: now)")]
Since = Annotated[str | None, Query(description="instead of from: a duration like 15m, 1h, 24h")]


async def _series(
    request: Request, dim: str, key: str, start: str | None, end: str | None, since: str | None
) -> dict[str, Any]:
    gw = gateway_of(request)
    try:
        begin, stop = resolve_window(since=since, start=start, end=end)
    except WindowError as exc:
        raise InvalidRequest(str(exc)) from exc

    def run() -> dict[str, Any]:
        with gw.db.read() as session:
            points = series(session, dim, key, begin, stop)
        return series_document(dim, key, begin, stop, gw.settings.observe.rollup_bucket_s, points)

    return await asyncio.to_thread(run)


@router.get(
    "/aliases/{alias}/series",
    summary="Per-bucket requests, 5xx/429, latency, tokens",
    response_model=AliasSeries,
)
async def alias_series(
    request: Request, alias: str, _: Reader, start: From = None, end: To = None, since: Since = None
) -> dict[str, Any]:
    if alias not in gateway_of(request).routing.matrix.aliases:
        raise NotFound(f"unknown alias {alias!r}")
    return await _series(request, "alias", alias, start, end, since)


@router.get(
    "/tenants/{tenant_id}/series",
    summary="The same series for one tenant",
    response_model=TenantSeries,
)
async def tenant_series(
    request: Request,
    tenant_id: str,
    _: Reader,
    start: From = None,
    end: To = None,
    since: Since = None,
) -> dict[str, Any]:
    return await _series(request, "tenant", tenant_id, start, end, since)


@router.get(
    "/providers/{provider}/series",
    summary="Upstream attempts to one provider by outcome (internal)",
    response_model=ProviderSeries,
)
async def provider_series(
    request: Request,
    provider: str,
    _: Reader,
    start: From = None,
    end: To = None,
    since: Since = None,
) -> dict[str, Any]:
    if provider not in gateway_of(request).routing.matrix.providers:
        raise NotFound(f"unknown provider {provider!r}")
    return await _series(request, "provider", provider, start, end, since)


@router.get("/alerts", summary="Spike alerts (firing by default)", response_model=AlertList)
async def list_alerts(request: Request, _: Reader, all: bool = False) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> list[dict[str, Any]]:
        with gw.db.read() as session:
            return alerts.list_alerts(session, include_resolved=all)

    return {"alerts": await asyncio.to_thread(run)}


@router.get(
    "/probes",
    summary="Synthetic probe results per provider and alias (last hour)",
    response_model=ProbeList,
)
async def list_probes(request: Request, _: Reader) -> dict[str, Any]:
    gw = gateway_of(request)
    matrix = gw.routing.matrix
    since = datetime.now(UTC) - timedelta(hours=1)

    def run() -> dict[str, Any]:
        with gw.db.read() as session:
            return {
                "providers": [
                    s.to_dict()
                    for s in summaries(
                        session, "provider", sorted(matrix.providers), since
                    ).values()
                ],
                "aliases": [
                    s.to_dict()
                    for s in summaries(session, "alias", sorted(matrix.aliases), since).values()
                ],
            }

    return await asyncio.to_thread(run)


@router.get(
    "/aliases/{alias}/triage",
    summary="Upstream or us? The verdict and its numbers",
    response_model=TriageReport,
)
async def triage_alias(
    request: Request,
    alias: str,
    _: Reader,
    window: Annotated[
        str | None, Query(description="e.g. 15m (default: the spike alert's window)")
    ] = None,
) -> dict[str, Any]:
    gw = gateway_of(request)
    matrix = gw.routing.matrix
    if alias not in matrix.aliases:
        raise NotFound(f"unknown alias {alias!r}")
    try:
        window_s = (
            parse_duration(window).total_seconds() if window else gw.settings.observe.alert_window_s
        )
    except WindowError as exc:
        raise InvalidRequest(str(exc)) from exc
    evidence = await asyncio.to_thread(triage.gather, gw.db, matrix, alias, window_s)
    return triage.report(evidence)
