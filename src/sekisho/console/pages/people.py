"""Users (admin: list, disable, enable) and operator tokens (create, list, revoke).

All through the admin API (`admin/tokens.py`): a token is created for the
signed-in user (admins may name another platform user), its secret shown
once on the page that created it and never again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sekisho.console.web import AdminRefused, Console, Viewer
from sekisho.errors import InvalidRequest

NOTICES = {
    "revoked": "Token revoked; it is refused on every replica within a second.",
    "disabled": "User disabled: their sessions ended and their tokens are refused.",
    "enabled": "User enabled again.",
}


def routes(console: Console) -> list[Route]:
    async def render(
        request: Request, viewer: Viewer, *, status: int = 200, **extra: Any
    ) -> Response:
        tokens_doc, users_doc = await asyncio.gather(
            console.api(viewer, "GET", "/tokens", params={"all": "true"}),
            console.api(viewer, "GET", "/users")
            if console.may(viewer, "users")
            else asyncio.sleep(0, {"users": None}),
        )
        return console.render(
            request,
            "people.html",
            viewer,
            status=status,
            tokens=tokens_doc["tokens"],
            users=users_doc["users"],
            notice=NOTICES.get(request.query_params.get("notice", "")),
            **extra,
        )

    @console.page("tokens")
    async def page(request: Request, viewer: Viewer) -> Response:
        return await render(request, viewer)

    @console.page("token_create")
    async def create(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        days = str(form.get("expires_in_days", "")).strip()
        if days and not days.isdigit():
            raise InvalidRequest("the lifetime is a number of days")
        body: dict[str, Any] = {
            "name": str(form.get("name", "")).strip()[:200],
            "expires_in_days": int(days) if days else None,
        }
        try:
            created = await console.api(viewer, "POST", "/tokens", body=body)
        except AdminRefused as exc:
            return await render(request, viewer, status=exc.status, error=exc.message)
        return await render(request, viewer, status=201, created=created)

    async def act(request: Request, viewer: Viewer, path: str, notice: str) -> Response:
        form = await request.form()
        body = {"note": str(form.get("note", "")).strip()[:2000] or None}
        try:
            await console.api(viewer, "POST", path, body=body)
        except AdminRefused as exc:
            return await render(request, viewer, status=exc.status, error=exc.message)
        return RedirectResponse(f"/console/people?notice={notice}", status_code=303)

    @console.page("token_revoke")
    async def revoke(request: Request, viewer: Viewer) -> Response:
        return await act(request, viewer, f"/tokens/{request.path_params['ref']}/revoke", "revoked")

    @console.page("user_disable")
    async def disable(request: Request, viewer: Viewer) -> Response:
        return await act(
            request, viewer, f"/users/{request.path_params['ref']}/disable", "disabled"
        )

    @console.page("user_enable")
    async def enable(request: Request, viewer: Viewer) -> Response:
        return await act(request, viewer, f"/users/{request.path_params['ref']}/enable", "enabled")

    return [
        Route("/people", page, methods=["GET"]),
        Route("/people/tokens", create, methods=["POST"]),
        Route("/people/tokens/{ref}/revoke", revoke, methods=["POST"]),
        Route("/people/users/{ref}/disable", disable, methods=["POST"]),
        Route("/people/users/{ref}/enable", enable, methods=["POST"]),
    ]
