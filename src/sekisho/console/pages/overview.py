"""Overview: a tile per alias, open incidents, firing alerts, overdue suspensions, sign-offs.

The tiles section polls itself (htmx, every few seconds) so the page stays live.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sekisho.console import queries
from sekisho.console.web import Console, Viewer

POLL_S = 5


def _circuit_state(route_views: list[dict[str, Any]]) -> str:
    states = {r["circuit"].get("state", "closed") for r in route_views}
    for worst in ("open", "half_open"):
        if worst in states:
            return worst
    return "closed"


async def overview_data(console: Console, viewer: Viewer) -> dict[str, Any]:
    gw = console.gateway
    aliases_doc, probes, alerts, incidents = await asyncio.gather(
        console.api(viewer, "GET", "/aliases"),
        console.api(viewer, "GET", "/probes"),
        console.api(viewer, "GET", "/alerts"),
        console.api(viewer, "GET", "/incidents"),
    )
    names = [a["alias"] for a in aliases_doc["aliases"]]

    def read() -> dict[str, dict[str, Any]]:
        with gw.db.read() as session:
            return queries.alias_tiles(session, names, datetime.now(UTC))

    tiles_numbers = await asyncio.to_thread(read)
    alias_probe = {p["target"]: p for p in probes["aliases"]}
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
        "incidents": incidents["incidents"],
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
