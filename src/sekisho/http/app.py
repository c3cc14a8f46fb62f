"""The app factory: `create_app(settings) -> ASGI app`. Nothing happens at import.

The two hot data-plane paths are dispatched by exact path to bare ASGI
handlers; everything else (ops, admin API, console, status) goes through a
Starlette app that owns the lifespan-free routes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount

from sekisho.admin import aliases as admin_aliases
from sekisho.admin import incidents as admin_incidents
from sekisho.admin import keys as admin_keys
from sekisho.admin import ledger as admin_ledger
from sekisho.admin import observe as admin_observe
from sekisho.admin import session_routes as admin_session
from sekisho.admin import tenants as admin_tenants
from sekisho.admin.app import create_admin_app
from sekisho.console import console_routes
from sekisho.gateway import Gateway, build_gateway
from sekisho.http.asgi import Receive, Scope, Send
from sekisho.http.ops import ops_routes
from sekisho.http.v1 import DataPlane
from sekisho.lifecycle.runtime import install as install_lifecycle
from sekisho.observe.mount import public_routes
from sekisho.settings import Settings

log = logging.getLogger(__name__)


class GatewayApp:
    """The ASGI callable: exact-path dispatch for /v1, Starlette for the rest."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.data_plane = DataPlane(
            gateway.chat, gateway.keys, max_body_bytes=gateway.settings.limits.max_body_bytes
        )
        lifecycle = install_lifecycle(gateway)
        self.admin = create_admin_app(
            gateway,
            [
                admin_aliases.router,
                admin_observe.router,
                admin_incidents.router,
                admin_ledger.router,
                admin_tenants.router,
                admin_keys.router,
                admin_session.router,
            ],
        )
        self.admin.state.session_resolver = lifecycle.sessions.admin_principal
        self.rest = Starlette(
            routes=[
                *ops_routes(gateway),
                *public_routes(gateway),
                Mount("/admin/v1", app=self.admin),
                *console_routes(gateway, self.admin),
            ]
        )
        self._hot = {
            "/v1/chat/completions": self.data_plane.chat_completions,
            "/v1/models": self.data_plane.models,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = self._hot.get(scope["path"])
            if handler is not None:
                await handler(scope, receive, send)
                return
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.rest(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message: dict[str, Any] = dict(await receive())
            if message["type"] == "lifespan.startup":
                try:
                    await self.gateway.start()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                self._install_sighup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.gateway.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _install_sighup(self) -> None:
        """SIGHUP reloads the matrix (only possible when serving from the main thread)."""
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


def create_app(settings: Settings, **overrides: Any) -> GatewayApp:
    """Build the whole gateway from settings; `overrides` hand in db/upstream for tests."""
    return GatewayApp(build_gateway(settings, **overrides))
