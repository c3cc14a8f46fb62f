"""Overview: a tile per alias, open incidents, firing alerts, overdue suspensions, sign-offs.

At most a handful of queries whatever the number of aliases or the traffic: tiles,
probe states and open incidents in one read, the routing view, alerts and the
lifecycle lists through the admin API.

The tiles section polls itself (htmx, every few seconds) so the page stays live.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sekisho.console import queries
from sekisho.console.web import Console, Viewer
from sekisho.incidents.service import list_incidents

POLL_S = 5
PROBE_WINDOW = timedelta(hours=1)  # as /admin/v1/probes


def _circuit_state(route_views: list[dict[str, Any]]) -> str:
    states = {r["circuit"].get("state", "closed") for r in route_views}
    for worst in ("open", "half_open"):
        if worst in states:
            return worst
    return "closed"


async def overview_data(console: Console, viewer: Viewer) -> dict[str, Any]:
    gw = console.gateway
    names = sorted(gw.routing.matrix.aliases)

    def read() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], list[Any]]:
        now = datetime.now(UTC)
        with gw.db.read() as session:  # three queries, whatever the number of aliases
            tiles = queries.alias_tiles(session, names, now)
            probes = queries.alias_probes(session, names, now - PROBE_WINDOW)
            incidents = [
                {"id": i.id, "title": i.title, "severity": i.severity, "aliases": i.aliases}
                for i in list_incidents(session)
            ]
        return tiles, {k: p.to_dict() for k, p in probes.items()}, incidents

    aliases_doc, alerts, (tiles_numbers, alias_probe, incidents) = await asyncio.gather(
        console.api(viewer, "GET", "/aliases"),
        console.api(viewer, "GET", "/alerts"),
        asyncio.to_thread(read),
    )
    firing = {a["alias"] for a in alerts["alerts"]}
    tiles = []
    for view in aliases_doc["aliases"]:
        name = view["alias"]
        probe = alias_probe.get(name, {})
        tiles.append(
            {
                "alias": name,
                "sovereignty": view["sovereignty"],
                **tiles_numbers[name],
                "circuit": _circuit_state(view["routes"]),
                "open_routes": [
                    r["provider"] for r in view["routes"] if r["circuit"].get("state") == "open"
                ],
                "probe": probe,
                "alert": name in firing,
                "overrides": [o for o in view["overrides"] if o.get("active")],
            }
        )
    overdue: list[dict[str, Any]] = []
    if console.may(viewer, "overdue"):
        overdue = (await console.api(viewer, "GET", "/tenants/overdue"))["overdue"]
    waiting: list[dict[str, Any]] = []
    if console.may(viewer, "suspension_requests"):
        pending = await console.api(
            viewer, "GET", "/suspension-requests", params={"state": "pending"}
        )
        waiting = [r for r in pending["requests"] if r.get("can_sign_off")]
    return {
        "tiles": tiles,
        "alerts": alerts["alerts"],
        "incidents": incidents,
        "overdue": overdue,
        "waiting": waiting,
        "poll_s": POLL_S,
        "now": datetime.now(UTC),
    }


def routes(console: Console) -> list[Route]:
    @console.page(None)
    async def overview(request: Request, viewer: Viewer) -> Response:
        if not console.may(viewer, "overview"):  # owners start at tenants, members at "me"
            target = (
                "/console/sign-offs"
                if console.may(viewer, "sign_off")
                else "/console/tenants"
                if console.may(viewer, "tenants")
                else "/console/me"
            )
            return RedirectResponse(target, status_code=303)
        data = await overview_data(console, viewer)
        return console.render(request, "overview.html", viewer, **data)

    @console.page("overview")
    async def live(request: Request, viewer: Viewer) -> Response:
        data = await overview_data(console, viewer)
        return console.render(request, "partials/overview_live.html", viewer, **data)

    return [
        Route("/", overview, methods=["GET"]),
        Route("/overview/live", live, methods=["GET"]),
    ]
