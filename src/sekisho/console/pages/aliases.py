"""Alias dashboard: status-code series and latency percentiles, spike markers, drill-down.

The chart (uPlot, /console/static/console.js) reads `series.json`, which is the
admin API's rollup series reshaped into columns, with the alias's alerts as
spike markers. Clicking a point loads the requests of that bucket; a request
opens its route plan and every attempt with its reason.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sekisho.console import queries
from sekisho.console.web import Console, Viewer
from sekisho.errors import InvalidRequest, NotFound

WINDOWS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}


def _window(request: Request) -> str:
    window = request.query_params.get("window", "1h")
    if window not in WINDOWS:
        raise InvalidRequest(f"window must be one of {', '.join(WINDOWS)}")
    return window


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def chart_columns(doc: dict[str, Any], alerts: list[dict[str, Any]], alias: str) -> dict[str, Any]:
    """uPlot's column layout of a series document, plus spike markers (pure)."""
    buckets = doc["buckets"]
    cols: dict[str, list[Any]] = {
        "ts": [],
        "2xx": [],
        "4xx": [],
        "5xx": [],
        "429": [],
        "error_rate": [],
        "p50": [],
        "p95": [],
        "p99": [],
    }
    for b in buckets:
        cols["ts"].append(int(_ts(b["ts"])))
        for code in ("2xx", "4xx", "5xx", "429"):
            cols[code].append(b[code])
        cols["error_rate"].append(b["error_rate"])
        for q in ("p50", "p95", "p99"):
            cols[q].append(b["latency_ms"][q])
    start, end = _ts(doc["from"]), _ts(doc["to"])
    spikes = []
    for a in alerts:
        if a["alias"] != alias:
            continue
        fired = _ts(a["fired_at"])
        resolved = _ts(a["resolved_at"]) if a["resolved_at"] else end
        if resolved >= start and fired <= end:
            spikes.append(
                {"from": max(fired, start), "to": min(resolved, end), "peak": a["peak_rate"]}
            )
    return {
        "alias": alias,
        "bucket_s": doc["bucket_s"],
        "from": start,
        "to": end,
        "columns": cols,
        "spikes": spikes,
        "totals": doc["totals"],
    }


def routes(console: Console) -> list[Route]:
    def known(alias: str) -> None:
        if alias not in console.gateway.routing.matrix.aliases:
            raise NotFound(f"There is no alias called {alias!r}.")

    @console.page("alias_dashboard")
    async def dashboard(request: Request, viewer: Viewer) -> Response:
        alias = request.path_params["alias"]
        known(alias)
        window = _window(request)
        end = datetime.now(UTC)
        start = end - WINDOWS[window]

        def read() -> dict[str, Any]:
            with console.gateway.db.read() as session:
                return queries.alias_totals(session, alias, start, end)

        view, totals = await asyncio.gather(
            console.api(viewer, "GET", f"/aliases/{alias}"), asyncio.to_thread(read)
        )
        triage = (
            await console.api(viewer, "GET", f"/aliases/{alias}/triage")
            if console.may(viewer, "triage")
            else None
        )
        return console.render(
            request,
            "alias.html",
            viewer,
            alias=alias,
            view=view,
            totals=totals,
            window=window,
            windows=list(WINDOWS),
            triage=triage,
            recent_from=int(time.time() - WINDOWS[window].total_seconds()),
            recent_to=int(time.time() + 60),
        )

    @console.page("alias_dashboard")
    async def series_json(request: Request, viewer: Viewer) -> Response:
        alias = request.path_params["alias"]
        known(alias)
        window = _window(request)
        end = datetime.now(UTC)
        start = end - WINDOWS[window]
        bucket_s = console.gateway.settings.observe.rollup_bucket_s

        def read() -> dict[str, Any]:
            with console.gateway.db.read() as session:
                doc = queries.alias_chart(session, alias, start, end, bucket_s)
                alerts = queries.alias_alerts(session, alias, start, end)
            return chart_columns(doc, alerts, alias)

        return JSONResponse(await asyncio.to_thread(read))

    @console.page("requests")
    async def requests(request: Request, viewer: Viewer) -> Response:
        alias = request.path_params["alias"]
        known(alias)
        try:
            start = datetime.fromtimestamp(float(request.query_params["from"]), UTC)
            end = datetime.fromtimestamp(float(request.query_params["to"]), UTC)
        except (KeyError, ValueError, OverflowError, OSError) as exc:
            raise InvalidRequest("from and to must be Unix times in seconds") from exc
        if end <= start or end - start > timedelta(days=7):
            raise InvalidRequest("the window must be positive and at most 7 days")
        errors_only = request.query_params.get("errors") == "1"

        def read() -> list[dict[str, Any]]:
            with console.gateway.db.read() as session:
                return queries.requests_in(session, alias, start, end, errors_only=errors_only)

        rows = await asyncio.to_thread(read)
        template = (
            "partials/requests.html" if request.headers.get("hx-request") else "requests.html"
        )
        return console.render(
            request,
            template,
            viewer,
            alias=alias,
            rows=rows,
            start=start,
            end=end,
            errors_only=errors_only,
            limit=queries.DRILL_LIMIT,
        )

    @console.page("requests")
    async def request_detail(request: Request, viewer: Viewer) -> Response:
        request_id = request.path_params["request_id"]

        def read() -> dict[str, Any] | None:
            with console.gateway.db.read() as session:
                return queries.request_detail(session, request_id)

        row = await asyncio.to_thread(read)
        if row is None:
            raise NotFound(f"No request {request_id!r} in the request log.")
        return console.render(request, "request.html", viewer, row=row)

    return [
        Route("/aliases/{alias}", dashboard, methods=["GET"]),
        Route("/aliases/{alias}/series.json", series_json, methods=["GET"]),
        Route("/aliases/{alias}/requests", requests, methods=["GET"]),
        Route("/requests/{request_id}", request_detail, methods=["GET"]),
    ]
