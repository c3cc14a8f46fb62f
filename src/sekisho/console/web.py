"""The console's request plumbing: who is viewing, may they, render a page, ask the admin API.

A page handler is declared with `@console.page("action")`: the viewer comes
from the session cookie through the identity code (every use re-read from
the store, CSRF-checked on unsafe methods), the action is judged by the
admin API's own decision (`authz.Permissions`), and errors become a page
that says what went wrong. State changes go through the admin API in
process, with the viewer's own session, so the admin API's validation,
ledger entries and refusals are the console's.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from fastapi import FastAPI
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from sekisho.console.authz import Permissions
from sekisho.errors import InvalidApiKey, PermissionDenied, SekishoError
from sekisho.gateway import Gateway
from sekisho.identity.csrf import CSRF_FIELD, csrf_token
from sekisho.identity.resolver import verified_once
from sekisho.store.models import PLATFORM_ROLES

Handler = Callable[[Request, "Viewer"], Awaitable[Response]]

NAV: tuple[tuple[str, str, str], ...] = (
    ("overview", "Overview", "/console/"),
    ("providers", "Providers", "/console/providers"),
    ("tenants", "Tenants", "/console/tenants"),
    ("sign_off", "Sign-offs", "/console/sign-offs"),
    ("incidents", "Incidents", "/console/incidents"),
    ("runbook", "Runbooks", "/console/runs"),
    ("evidence_export", "Evidence", "/console/evidence"),
    ("ledger", "Ledger", "/console/ledger"),
    ("tokens", "Tokens", "/console/people"),
)


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: str
    email: str
    role: str
    tenant_id: str | None
    token: str
    csrf: str

    @property
    def platform(self) -> bool:
        return self.role in PLATFORM_ROLES


class AdminRefused(Exception):
    """The admin API said no; `message` is its own words (our envelope)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Console:
    def __init__(self, gateway: Gateway, admin: FastAPI) -> None:
        self.gateway = gateway
        self.admin_app = admin
        self.permissions = Permissions.from_admin(admin)
        self.env = Environment(
            loader=PackageLoader("sekisho.console", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["epoch"] = _epoch
        self._admin_client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=admin), base_url="http://console.internal"
        )

    # -- cookies and sessions -------------------------------------------------------------

    @property
    def identity(self) -> Any:
        return self.gateway.settings.identity

    def secure(self, request: Request) -> bool:
        configured: bool | None = self.identity.cookie_secure
        return configured if configured is not None else request.url.scheme == "https"

    def cookie_name(self, request: Request, base: str | None = None) -> str:
        """`__Host-` prefixed over TLS: Secure, Path=/, no Domain, so no sibling can set it."""
        name = base or self.identity.cookie_name
        return f"__Host-{name}" if self.secure(request) else name

    def set_cookie(
        self, response: Response, request: Request, name: str, value: str, max_age: int
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            httponly=True,
            secure=self.secure(request),
            samesite=self.identity.cookie_samesite,
        )

    def session_token(self, request: Request) -> str | None:
        return request.cookies.get(self.cookie_name(request)) or None

    async def viewer(self, request: Request) -> Viewer | None:
        """The signed-in viewer (CSRF-checked for unsafe methods), None without a cookie."""
        token = self.session_token(request)
        if token is None:
            return None
        who = await self.gateway.lifecycle.sessions.signed_in(request, token=token)
        return Viewer(
            who.session.user_id,
            who.email,
            who.session.role,
            who.session.tenant_id,
            token,
            csrf_token(token),
        )

    def may(self, viewer: Viewer, action: str) -> bool:
        return viewer.platform and self.permissions.may(viewer.role, action)

    # -- rendering ------------------------------------------------------------------------

    def render(
        self,
        request: Request,
        template: str,
        viewer: Viewer | None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        nav = (
            [(label, href) for action, label, href in NAV if self.may(viewer, action)]
            if viewer is not None
            else []
        )
        html = self.env.get_template(template).render(
            request=request,
            viewer=viewer,
            nav=nav,
            path=request.url.path,
            csrf_field=CSRF_FIELD,
            may=(lambda action: viewer is not None and self.may(viewer, action)),
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def error_page(
        self, request: Request, viewer: Viewer | None, status: int, title: str, message: str
    ) -> HTMLResponse:
        return self.render(
            request, "error.html", viewer, status=status, title=title, message=message
        )

    def page(
        self, action: str | None
    ) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
        """Declare a console handler: signed in, allowed `action` (None: any signed-in user)."""

        def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                if request.method in ("GET", "HEAD"):  # a read: confirm the session once
                    with verified_once():
                        return await guarded(request)
                return await guarded(request)

            async def guarded(request: Request) -> Response:
                try:
                    viewer = await self.viewer(request)
                except InvalidApiKey as exc:
                    return self._to_sign_in(request, exc.message)
                except SekishoError as exc:
                    return self.error_page(request, None, exc.status, "Not allowed", exc.message)
                if viewer is None:
                    return self._to_sign_in(request, None)
                if action is not None and not self.may(viewer, action):
                    return self.error_page(
                        request,
                        viewer,
                        403,
                        "Not for your role",
                        f"You are signed in as {viewer.email} ({viewer.role}); "
                        "that role may not see or do this, in the console or the admin API."
                        + ("" if viewer.platform else " Tenant members use the chat app at /chat."),
                    )
                try:
                    return await handler(request, viewer)
                except AdminRefused as exc:
                    return self.error_page(request, viewer, exc.status, "Refused", exc.message)
                except SekishoError as exc:
                    return self.error_page(request, viewer, exc.status, "Refused", exc.message)

            endpoint.__name__ = handler.__name__
            endpoint.action = action  # type: ignore[attr-defined]
            return endpoint

        return wrap

    def _to_sign_in(self, request: Request, why: str | None) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = f"/console/sign-in?next={quote(target, safe='')}"
        if why:
            location += "&ended=1"
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": location})
        return RedirectResponse(location, status_code=303)

    # -- the admin API, in process, as the viewer -----------------------------------------

    def _headers(self, viewer: Viewer) -> dict[str, str]:
        return {
            "cookie": f"{self.identity.cookie_name}={viewer.token}",
            "x-csrf-token": viewer.csrf,
            "accept": "application/json",
        }

    async def api(
        self,
        viewer: Viewer,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call `/admin/v1{path}` as the viewer; the decoded JSON, or AdminRefused."""
        response = await self._admin_client.request(
            method,
            path,
            params={k: v for k, v in (params or {}).items() if v is not None},
            content=orjson.dumps(body) if body is not None else None,
            headers={**self._headers(viewer), "content-type": "application/json"},
        )
        if response.status_code >= 400:
            try:
                err = response.json()["error"]
                raise AdminRefused(response.status_code, err.get("code", ""), err["message"])
            except (ValueError, KeyError, TypeError):
                raise AdminRefused(
                    response.status_code, "internal_error", response.text[:300]
                ) from None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response

    async def api_raw(self, viewer: Viewer, method: str, path: str, body: Any) -> httpx.Response:
        response = await self._admin_client.request(
            method,
            path,
            content=orjson.dumps(body),
            headers={**self._headers(viewer), "content-type": "application/json"},
        )
        if response.status_code >= 400:
            try:
                err = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                err = {"code": "internal_error", "message": response.text[:300]}
            raise AdminRefused(response.status_code, err.get("code", ""), err["message"])
        return response

    async def close(self) -> None:
        await self._admin_client.aclose()


def _epoch(value: float | None) -> str:
    """Unix seconds -> '2026-12-01 09:40:00Z' (the console shows UTC everywhere)."""
    if value is None:
        return "\u2013"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def new_signin_nonce() -> str:
    return secrets.token_urlsafe(24)


def not_allowed(viewer: Viewer, what: str) -> PermissionDenied:
    return PermissionDenied(f"Role {viewer.role!r} may not {what}.")
