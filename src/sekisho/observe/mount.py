"""What the app factory mounts for observability: /metrics, /status, /status.json."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from sekisho.observe.routes import metrics_routes
from sekisho.status.page import StatusPage


def public_routes(gateway: Any) -> list[Route]:
    """Routes outside /admin/v1 (`gateway` is a `sekisho.gateway.Gateway`)."""

    def matrix() -> Any:
        return gateway.routing.matrix

    routes = metrics_routes(gateway.db, gateway.observability, gateway.writer, matrix)
    return [*routes, *StatusPage(gateway.db, matrix, gateway.settings.observe).routes()]
