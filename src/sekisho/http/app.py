"""The app factory: `create_app(settings) -> ASGI app`. Nothing happens at import.

The data-plane paths (/v1) are dispatched by exact path to bare ASGI
handlers; everything else (ops, admin API, console, status) and the ASGI
lifespan go through a Starlette app. The lifespan enters the gateway's
`running()` context: a failed start-up is kept in `startup_error` (for
`sekisho serve`) and reported to the server; shutdown leaves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount

from sekisho.admin import aliases as admin_aliases
from sekisho.admin import evidence as admin_evidence
from sekisho.admin import guardrails as admin_guardrails
from sekisho.admin import incidents as admin_incidents
from sekisho.admin import keys as admin_keys
from sekisho.admin import ledger as admin_ledger
from sekisho.admin import notifications as admin_notifications
from sekisho.admin import observe as admin_observe
from sekisho.admin import quotas as admin_quotas
from sekisho.admin import session_routes as admin_session
from sekisho.admin import tenants as admin_tenants
from sekisho.admin.app import create_admin_app
from sekisho.chatapp import admin_routes as chat_admin
from sekisho.chatapp import chat_app
from sekisho.console import console_routes
from sekisho.gateway import Gateway, build_gateway
from sekisho.http.asgi import Receive, Scope, Send
from sekisho.http.bodyguard import BodyGuard
from sekisho.http.cors import Cors
from sekisho.http.dispatch import Endpoint, PathTable
from sekisho.http.limits import EdgeLimits
from sekisho.http.ops import ops_routes
from sekisho.http.rest_errors import envelope_handlers
from sekisho.http.v1 import MODELS_PREFIX, DataPlane
from sekisho.inbound.anthropic_messages import MessagesEndpoint
from sekisho.inbound.embeddings import EmbeddingsEndpoint
from sekisho.inbound.responses import ResponsesEndpoint
from sekisho.observe.mount import public_routes
from sekisho.observe.refusals import RefusalLog
from sekisho.settings import Settings

log = logging.getLogger(__name__)


class GatewayApp:
    """The ASGI callable: exact-path dispatch for /v1, Starlette for the rest."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.data_plane = DataPlane(
            gateway.chat,
            gateway.keys,
            max_body_bytes=gateway.settings.limits.max_body_bytes,
            refusals=RefusalLog(gateway.writer.submit),  # refused at auth: still counted
        )
        lifecycle = gateway.lifecycle
        self.admin = create_admin_app(
            gateway,
            [
                admin_aliases.router,
                admin_observe.router,
                admin_incidents.router,
                admin_ledger.router,
                admin_evidence.router,
                admin_notifications.router,
                admin_tenants.router,
                admin_keys.router,
                admin_session.router,
                admin_guardrails.router,
                chat_admin.router,
                admin_quotas.router,
            ],
        )
        self.admin.state.session_resolver = lifecycle.sessions.admin_principal
        self.rest = Starlette(
            routes=[
                *ops_routes(gateway),
                *public_routes(gateway),
                Mount("/admin/v1", app=self.admin),
                *console_routes(gateway, self.admin),
                Mount("/chat", app=chat_app(gateway, lifecycle)),
            ],
            exception_handlers=envelope_handlers(),
            lifespan=self._lifespan,
        )
        # The data plane: one line per endpoint; other /v1 paths are 404, wrong methods 405.
        self.v1 = PathTable(
            {
                "/v1/chat/completions": Endpoint(("POST",), self.data_plane.chat_completions),
                "/v1/models": Endpoint(("GET",), self.data_plane.models),
                "/v1/embeddings": Endpoint(("POST",), EmbeddingsEndpoint(gateway).__call__),
                "/v1/messages": Endpoint(
                    ("POST",), (messages := MessagesEndpoint(gateway)).messages
                ),
                "/v1/messages/count_tokens": Endpoint(("POST",), messages.count_tokens),
                "/v1/responses": Endpoint(("POST",), ResponsesEndpoint(gateway).__call__),
            },
            with_param={MODELS_PREFIX: Endpoint(("GET",), self.data_plane.model)},
        )
        self.cors = Cors.from_settings(gateway.settings.cors, self.v1.allowed)
        self.limits = EdgeLimits.from_settings(gateway.settings.limits)
        self._rest_guarded = BodyGuard(self.rest, self.limits)
        self.startup_error: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self.cors is not None and self.cors.applies(scope):
                await self.cors(scope, receive, send, self._http)
                return
            await self._http(scope, receive, send)
            return
        await self.rest(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].startswith("/v1/") or scope["path"] == "/v1":
            await self.v1(scope, receive, send)
        else:
            await self._rest_guarded(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: object) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(self.gateway.running())
            except Exception as exc:
                log.exception("start-up failed")
                self.startup_error = str(exc) or type(exc).__name__
                raise
            stack.callback(self._install_sighup())
            yield

    def _install_sighup(self) -> Callable[[], None]:
        """SIGHUP reloads the matrix (only possible when serving from the main thread).

        Returns what removes the handler again."""
        loop = asyncio.get_running_loop()

        async def reload() -> None:
            try:
                await self.gateway.reload_matrix()
            except Exception as exc:
                log.error("matrix reload on SIGHUP refused; the running matrix stays: %s", exc)

        try:
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reload()))
        except (ValueError, RuntimeError, NotImplementedError):
            log.debug("SIGHUP reload not available in this thread")
            return lambda: None
        return lambda: _remove_sighup(loop)


def _remove_sighup(loop: asyncio.AbstractEventLoop) -> None:
    with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
        loop.remove_signal_handler(signal.SIGHUP)


def create_app(settings: Settings, **overrides: Any) -> GatewayApp:
    """Build the whole gateway from settings; `overrides` (db, upstream, clock, wall_clock)
    are `build_gateway`'s injected I/O."""
    return GatewayApp(build_gateway(settings, **overrides))
