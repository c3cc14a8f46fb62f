"""The BFF chat app at `/chat`: a tenant's members chat in the browser; no credential reaches it.

The browser holds one HttpOnly session cookie. Everything else stays on the
server, which calls the chat core in-process, stores conversations per
tenant and user, and streams answers to the page. Parts:

    members.py  who is chatting (the identity code's sessions, CSRF, throttling)
    browser.py  CSP and security headers, same-origin checks, cookie names (pure)
    store.py    the member's conversations and turns (tenant- and user-scoped)
    history.py  what of a conversation is sent within the alias's budget (pure)
    answer.py   one answer: chat core call, NDJSON stream, stop, storage
    wording.py  errors and guardrail notices in plain words (pure)
    api.py      JSON routes under /chat/api
    pages.py    server-rendered pages and their plain-form fallbacks
"""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sekisho.chatapp.answer import Answerer
from sekisho.chatapp.api import api_routes, error_response
from sekisho.chatapp.browser import SECURITY_HEADERS
from sekisho.chatapp.members import MemberAuth
from sekisho.chatapp.pages import Pages
from sekisho.errors import InvalidRequest, NotFound

if TYPE_CHECKING:
    from sekisho.gateway import Gateway
    from sekisho.lifecycle.runtime import LifecycleRuntime

__all__ = ["chat_app"]

_HEADERS = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
_STATIC_HEADERS = [(k, v) for k, v in _HEADERS if k != b"cache-control"] + [
    (b"cache-control", b"public, max-age=3600")
]


class SecurityHeaders:
    """Adds the CSP and the other security headers to every response of the chat app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _STATIC_HEADERS if scope["path"].startswith("/chat/static/") else _HEADERS

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = dict(message)
                message["headers"] = [
                    *message.get("headers", []),
                    *((k, v) for k, v in extra if k not in present),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def chat_app(gateway: Gateway, lifecycle: LifecycleRuntime) -> ASGIApp:
    """The chat app, to be mounted at `/chat`."""
    auth = MemberAuth(gateway.db, gateway.settings.identity, lifecycle.sessions, lifecycle.signin)
    answerer = Answerer(
        gateway.db,
        gateway.chat,
        lambda: gateway.routing.matrix,
        gateway.settings.limits.max_body_bytes,
    )
    pages = Pages(gateway.db, auth, answerer)

    async def http_error(request: Request, exc: Any) -> Response:
        status = getattr(exc, "status_code", 500)
        if request.url.path.startswith("/chat/api"):
            if status == 405:
                return error_response(InvalidRequest(f"{request.method} is not allowed here."))
            return error_response(NotFound("No such route in the chat API."))
        return pages.error_page(NotFound("Not found."))

    static = StaticFiles(directory=str(files("sekisho.chatapp").joinpath("static")))
    app = Starlette(
        routes=[*pages.routes(), *api_routes(gateway.db, auth, answerer), Mount("/static", static)],
        exception_handlers={HTTPException: http_error},
    )
    return SecurityHeaders(app)
