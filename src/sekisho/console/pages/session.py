"""Sign in (throttled by the identity code, as the API is), sign out, who am I."""

from __future__ import annotations

import asyncio
import hmac
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sekisho.console.web import Console, Viewer, new_signin_nonce
from sekisho.errors import RateLimited, SekishoError
from sekisho.identity import sessions

NONCE_COOKIE = "sekisho_console_signin"


def _safe_next(target: str | None) -> str:
    """Only a console path (never another origin) is a place to go after sign-in."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console/"


def routes(console: Console) -> list[Route]:
    def sign_in_form(
        request: Request, *, status: int = 200, error: str | None = None, email: str = ""
    ) -> Response:
        nonce = new_signin_nonce()
        ended = request.query_params.get("ended") == "1"
        response = console.render(
            request,
            "sign_in.html",
            None,
            status=status,
            error=error,
            notice="Your session has ended; sign in again." if ended and not error else None,
            email=email,
            nonce=nonce,
            next=_safe_next(request.query_params.get("next")),
        )
        console.set_cookie(
            response, request, console.cookie_name(request, NONCE_COOKIE), nonce, 900
        )
        return response

    async def sign_in_page(request: Request) -> Response:
        return sign_in_form(request)

    async def sign_in(request: Request) -> Response:
        form = await request.form()
        email = str(form.get("email", ""))[:320]
        password = str(form.get("password", ""))[:1000]
        nonce = str(form.get("nonce", ""))
        expected = request.cookies.get(console.cookie_name(request, NONCE_COOKIE), "")
        # Login CSRF: the form must come from a page this browser was served.
        if not expected or not hmac.compare_digest(expected, nonce):
            return sign_in_form(
                request, status=403, error="The sign-in form expired; try again.", email=email
            )
        if not email or not password:
            return sign_in_form(
                request, status=400, error="Enter your e-mail and password.", email=email
            )
        runtime = console.gateway.lifecycle
        try:
            result = await runtime.signin.sign_in(
                email,
                password,
                ip=request.client.host if request.client else None,
                previous=console.session_token(request),
            )
        except RateLimited as exc:
            return sign_in_form(
                request,
                status=429,
                error=f"Too many failed sign-ins; try again in {exc.retry_after} seconds.",
                email=email,
            )
        except SekishoError as exc:
            return sign_in_form(request, status=exc.status, error=exc.message, email=email)
        response = RedirectResponse(_safe_next(str(form.get("next", ""))), status_code=303)
        console.set_cookie(
            response,
            request,
            console.cookie_name(request),
            result.token,
            int(runtime.sessions.cfg.session_absolute_timeout_s),
        )
        response.delete_cookie(console.cookie_name(request, NONCE_COOKIE), path="/")
        return response

    @console.page(None)
    async def sign_out(request: Request, viewer: Viewer) -> Response:
        def run() -> None:
            with console.gateway.db.begin() as db:
                sessions.revoke(db, viewer.token, "signed_out", datetime.now(UTC))

        await asyncio.to_thread(run)
        response = RedirectResponse("/console/sign-in", status_code=303)
        response.delete_cookie(
            console.cookie_name(request), path="/", secure=console.secure(request), httponly=True
        )
        return response

    @console.page(None)
    async def whoami(request: Request, viewer: Viewer) -> Response:
        allowed = sorted(console.permissions.allowed(viewer.role)) if viewer.platform else []
        return console.render(request, "me.html", viewer, allowed=allowed)

    return [
        Route("/sign-in", sign_in_page, methods=["GET"]),
        Route("/sign-in", sign_in, methods=["POST"]),
        Route("/sign-out", sign_out, methods=["POST"]),
        Route("/me", whoami, methods=["GET"]),
    ]
