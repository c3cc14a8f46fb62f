"""The operator console at /console: server-rendered pages over the admin API.

`console_routes(gateway, admin)` returns the routes the app factory mounts.
Pages are Jinja2 templates, progressively enhanced with htmx (partial
updates) and uPlot (time series); every asset ships in the package
(`sekisho/console/static`), every answer carries a strict CSP with no inline
script or style. Sessions are the identity module's; authorization is the
admin API's own decision (`console.authz`); state changes go through the
admin API in process, as the signed-in viewer.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sekisho.console.pages import (
    aliases,
    evidence,
    incidents,
    ledger,
    overview,
    people,
    providers,
    runs,
    session,
    tenants,
)
from sekisho.console.security import SecurityHeaders
from sekisho.console.tally import QueryTally
from sekisho.console.web import Console
from sekisho.gateway import Gateway

__all__ = ["Console", "console_routes"]

PAGES = (session, overview, aliases, providers, tenants, incidents, runs, evidence, ledger, people)


def console_app(console: Console) -> Starlette:
    routes: list[Route | Mount] = []
    for module in PAGES:
        routes.extend(module.routes(console))
    static = StaticFiles(directory=str(files("sekisho.console").joinpath("static")))
    routes.append(Mount("/static", app=static, name="static"))

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return console.error_page(
            request,
            None,
            status,
            "Not found" if status == 404 else "Not allowed",
            "There is no console page at this address. Start again from the overview.",
        )

    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})


def console_routes(gateway: Gateway, admin: FastAPI) -> list[Route | Mount]:
    """What the app factory mounts: /console (redirect) and everything under /console/."""
    console = Console(gateway, admin)
    app = SecurityHeaders(QueryTally(console_app(console), gateway.db.engine))

    async def bare(request: Request) -> Response:
        return RedirectResponse("/console/", status_code=308)

    return [Route("/console", bare), Mount("/console", app=app, name="console")]
