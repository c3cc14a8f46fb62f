"""Error handlers for the Starlette/FastAPI part: every error in the envelope of its API.

Installed on the outer Starlette app (ops, status, console, chat app; unknown
paths) and on the admin FastAPI app, so a 404, a 405 (with `Allow`), a
framework 400 or an unexpected exception never leaves as plain text or as
FastAPI's `{"detail": ...}`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from sekisho.errors import (
    HeadersTooLarge,
    InternalError,
    InvalidApiKey,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PermissionDenied,
    RequestTimeout,
    RequestTooLarge,
    SekishoError,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from sekisho.http.envelopes import error_bytes_for
from sekisho.ids import request_id

log = logging.getLogger(__name__)

Handler = Callable[[Request, Any], Coroutine[Any, Any, Response]]


def not_found(method: str, path: str) -> NotFound:
    return NotFound(f"No such endpoint: {method} {path}.")


def method_not_allowed(method: str, path: str, allow: tuple[str, ...]) -> MethodNotAllowed:
    return MethodNotAllowed(
        f"{method} is not allowed on {path}; use {', '.join(allow)}.", allow=allow
    )


def error_for_status(
    status: int, detail: str, method: str, path: str, allow: str = ""
) -> SekishoError:
    """Our error for a framework `HTTPException` (Starlette raises these for routing and forms)."""
    if status == 404:
        return not_found(method, path)
    if status == 405:
        methods = tuple(sorted(m.strip() for m in allow.split(",") if m.strip()))
        return method_not_allowed(method, path, methods)
    by_status: dict[int, type[SekishoError]] = {
        400: InvalidRequest,
        401: InvalidApiKey,
        403: PermissionDenied,
        408: RequestTimeout,
        413: RequestTooLarge,
        415: UnsupportedMediaType,
        431: HeadersTooLarge,
        503: ServiceUnavailable,
    }
    cls = by_status.get(status, InvalidRequest if status < 500 else InternalError)
    return cls(detail or "The request was refused.")


def error_response(request: Request, err: SekishoError) -> Response:
    return Response(
        error_bytes_for(request.url.path, err),
        status_code=err.status,
        media_type="application/json",
        headers={"x-request-id": request_id(), **err.headers()},
    )


async def _http_exception(request: Request, exc: HTTPException) -> Response:
    allow = (exc.headers or {}).get("Allow", "")
    err = error_for_status(
        exc.status_code, str(exc.detail), request.method, request.url.path, allow
    )
    return error_response(request, err)


async def _sekisho_error(request: Request, exc: SekishoError) -> Response:
    return error_response(request, exc)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, InternalError("Internal error. Quote the request id."))


def envelope_handlers() -> dict[int | type[Exception], Handler]:
    """`exception_handlers` for a Starlette or FastAPI app."""
    return {
        HTTPException: _http_exception,
        SekishoError: _sekisho_error,
        Exception: _unexpected,
    }
