"""The admin API app: FastAPI under /admin/v1, errors in the one envelope."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import Response

from sekisho.control.errors import ControlPlaneError
from sekisho.errors import InvalidRequest, SekishoError, error_body
from sekisho.gateway import Gateway
from sekisho.ids import request_id


def _error_response(err: SekishoError) -> Response:
    return Response(
        error_body(err),
        status_code=err.status,
        media_type="application/json",
        headers={"x-request-id": request_id(), **err.headers()},
    )


def create_admin_app(gateway: Gateway, routers: Iterable[APIRouter]) -> FastAPI:
    app = FastAPI(
        title="Sekisho admin API",
        version="1",
        description="Operator API: aliases, overrides, matrix, tenants, keys, ledger, incidents. "
        "Authenticate with an operator token (`sekisho token create`) as "
        "`Authorization: Bearer <token>`, or a console session.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.gateway = gateway

    @app.exception_handler(SekishoError)
    async def sekisho_error(_: Request, exc: SekishoError) -> Response:
        return _error_response(exc)

    @app.exception_handler(ControlPlaneError)
    async def refused(_: Request, exc: ControlPlaneError) -> Response:
        return _error_response(InvalidRequest(str(exc)))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error_response(InvalidRequest(f"{where}: {first.get('msg')}".strip(": ")))

    for router in routers:
        app.include_router(router)
    return app
