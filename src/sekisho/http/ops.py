"""Operational endpoints: liveness and readiness."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sekisho.gateway import Gateway


def ops_routes(gateway: Gateway) -> list[Route]:
    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        store_ok = await asyncio.to_thread(gateway.db.ping)
        body = {"status": "ready" if store_ok else "not_ready", "store": store_ok}
        return JSONResponse(body, status_code=200 if store_ok else 503)

    return [Route("/healthz", healthz), Route("/readyz", readyz)]
