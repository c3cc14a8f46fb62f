"""The admin API app: FastAPI under /admin/v1, errors in the one envelope.

Every error leaves as our envelope: our own errors, FastAPI's validation
errors (`invalid_request` naming the parameter), routing 404/405 (with
`Allow`), framework 4xx and unexpected exceptions. The docs page
(`/admin/v1/docs`) is Swagger UI from the package's own files, under a CSP
without inline script, so it works offline.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from sekisho.control.errors import ControlPlaneError
from sekisho.errors import InvalidRequest
from sekisho.gateway import Gateway
from sekisho.http.rest_errors import envelope_handlers, error_response

DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sekisho admin API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/sekisho-docs.js"></script>
</body>
</html>
"""


def swagger_ui_dir() -> Path:
    return Path(str(files("sekisho") / "static" / "swagger-ui"))


def _validation_error(exc: RequestValidationError) -> InvalidRequest:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    where = ".".join(loc) or None
    message = f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
    return InvalidRequest(message, param=where)


def create_admin_app(gateway: Gateway, routers: Iterable[APIRouter]) -> FastAPI:
    app = FastAPI(
        title="Sekisho admin API",
        version="1",
        description="Operator API: aliases, overrides, matrix, tenants, keys, ledger, incidents. "
        "Authenticate with an operator token (`sekisho token create`) as "
        "`Authorization: Bearer <token>`, or a console session.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        exception_handlers=envelope_handlers(),
    )
    app.state.gateway = gateway

    @app.exception_handler(ControlPlaneError)
    async def refused(request: Request, exc: ControlPlaneError) -> Response:
        return error_response(request, InvalidRequest(str(exc)))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, _validation_error(exc))

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        html = DOCS_HTML.format(assets=f"{root}/docs/assets", openapi=f"{root}/openapi.json")
        return HTMLResponse(html, headers={"content-security-policy": DOCS_CSP})

    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_dir()), name="docs-assets")

    for router in routers:
        app.include_router(router)
    return app
