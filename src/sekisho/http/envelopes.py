"""Which error envelope a path speaks, and the raw bytes of an error answer.

Every path answers in the envelope of its API: the Anthropic Messages paths
(`/v1/messages...`) in Anthropic's, everything else in ours (DESIGN.md, the
OpenAI shape). Used by the edge (before any app code runs) and by the 404/405
dispatch, so an unknown path or a refused request looks like the API it hit.
"""

from __future__ import annotations

import orjson

from sekisho.errors import SekishoError, error_body

ANTHROPIC_PREFIXES = ("/v1/messages",)

# Anthropic's error types by HTTP status (https://docs.anthropic.com/en/api/errors).
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "request_too_large",
    415: "invalid_request_error",
    429: "rate_limit_error",
    431: "invalid_request_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
}


def is_anthropic_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in ANTHROPIC_PREFIXES)


def anthropic_error_body(err: SekishoError) -> bytes:
    kind = _ANTHROPIC_TYPES.get(err.status, "api_error")
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": err.message}})


def error_bytes_for(path: str, err: SekishoError) -> bytes:
    """The error body in the envelope of the API `path` belongs to."""
    return anthropic_error_body(err) if is_anthropic_path(path) else error_body(err)


def raw_error_response(path: str, err: SekishoError, request_id: str) -> bytes:
    """A whole HTTP/1.1 response (closing the connection), for answers written below ASGI."""
    body = error_bytes_for(path, err)
    lines = [
        f"HTTP/1.1 {err.status} {_REASONS.get(err.status, 'Error')}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        f"x-request-id: {request_id}",
        *(f"{k}: {v}" for k, v in err.headers().items()),
        "connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


_REASONS = {
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
