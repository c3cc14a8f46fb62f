"""What an upstream said went wrong: stream error kinds and internal error details.

Kinds are coarse on purpose: the chat core only needs to know whether a failure
is the request's fault (returned to the caller, Rule 4) or the upstream's (fail
over, or 502/429 when no route is left). The upstream's own words go into
`detail`, which is for the internal request log only and may name the provider.

    invalid_request   the request itself was refused (4xx caused by the caller)
    rate_limited      upstream 429 / rate-limit error
    overloaded        upstream 503 / 529 / overloaded error
    timeout           upstream 408 / 504 / timeout error
    authentication_error, permission_error, not_found
                      our key or upstream model is wrong: the route is broken, not the request
    server_error      anything else upstream: 5xx, billing, malformed output
    truncated         the stream closed before its end marker

(The names are the ones `routing.outcome.classify_stream_error` reads.)
"""

from __future__ import annotations

from typing import Any

import orjson

from sekisho.adapters.base import StreamError

__all__ = [
    "AUTHENTICATION",
    "INVALID_REQUEST",
    "NOT_FOUND",
    "OVERLOADED",
    "PERMISSION",
    "RATE_LIMITED",
    "SERVER_ERROR",
    "TIMEOUT",
    "TRUNCATED",
    "UpstreamFormatError",
    "error_detail",
    "kind_for_status",
    "stream_error",
]

INVALID_REQUEST = "invalid_request"
RATE_LIMITED = "rate_limited"
OVERLOADED = "overloaded"
TIMEOUT = "timeout"
SERVER_ERROR = "server_error"
TRUNCATED = "truncated"
AUTHENTICATION = "authentication_error"
PERMISSION = "permission_error"
NOT_FOUND = "not_found"

_MAX_DETAIL = 1000  # an upstream error page can be huge; the log needs the gist

# Error `type`/`code` strings of both wire formats (and common OpenAI-compatible servers).
# Credential, permission, billing and not-found errors are about *our* provider account,
# not the caller's request, so none of them is `invalid_request`.
_KIND_BY_TYPE: dict[str, str] = {
    "invalid_request_error": INVALID_REQUEST,
    "request_too_large": INVALID_REQUEST,
    "context_length_exceeded": INVALID_REQUEST,
    "BadRequestError": INVALID_REQUEST,
    "rate_limit_error": RATE_LIMITED,
    "rate_limit_exceeded": RATE_LIMITED,
    "insufficient_quota": RATE_LIMITED,
    "tokens": RATE_LIMITED,
    "requests": RATE_LIMITED,
    "overloaded_error": OVERLOADED,
    "overloaded": OVERLOADED,
    "engine_overloaded": OVERLOADED,
    "timeout_error": TIMEOUT,
    "api_error": SERVER_ERROR,
    "server_error": SERVER_ERROR,
    "authentication_error": AUTHENTICATION,
    "invalid_api_key": AUTHENTICATION,
    "permission_error": PERMISSION,
    "not_found_error": NOT_FOUND,
    "model_not_found": NOT_FOUND,
    "billing_error": SERVER_ERROR,
}


class UpstreamFormatError(Exception):
    """A 2xx upstream body we cannot read as the wire format promised: an upstream failure."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def kind_for_status(status: int) -> str:
    """The error kind an upstream HTTP status stands for."""
    if status == 429:
        return RATE_LIMITED
    if status in (408, 504):
        return TIMEOUT
    if status in (503, 529):
        return OVERLOADED
    # 401/403/404 mean our key or model name is wrong: the route is broken, not the request.
    by_status = {401: AUTHENTICATION, 402: SERVER_ERROR, 403: PERMISSION, 404: NOT_FOUND}
    if status in by_status:
        return by_status[status]
    return INVALID_REQUEST if 400 <= status < 500 else SERVER_ERROR


def _error_object(payload: Any) -> dict[str, Any] | None:
    """The `{"message", "type", ...}` object inside the shapes upstreams use for errors."""
    if not isinstance(payload, dict):
        return None
    err = payload.get("error")
    if isinstance(err, dict):
        return err
    if isinstance(err, str):
        return {"message": err}
    if payload.get("object") == "error" or payload.get("type") == "error":
        return payload  # vLLM-style: the error fields sit at the top level
    if isinstance(payload.get("detail"), str):
        return {"message": payload["detail"]}  # FastAPI-based servers
    return None


def _describe(err: dict[str, Any]) -> str:
    label = err.get("code") if isinstance(err.get("code"), str) else err.get("type")
    message = err.get("message")
    text = str(message) if message is not None else orjson.dumps(err).decode()
    return f"{label}: {text}" if isinstance(label, str) and label != "error" else text


def error_detail(status: int, data: bytes) -> str:
    """The upstream's own error message, bounded, for the internal request log only."""
    try:
        err = _error_object(orjson.loads(data))
    except orjson.JSONDecodeError:
        err = None
    if err is not None:
        text = _describe(err)
    else:
        text = data[:_MAX_DETAIL].decode("utf-8", "replace").strip() or "(empty body)"
    return f"HTTP {status}: {text}"[:_MAX_DETAIL]


def stream_error(payload: dict[str, Any]) -> StreamError:
    """A `StreamError` from an error event an upstream sent inside a 200 stream."""
    err = _error_object(payload) or {}
    kind = None
    for key in ("code", "type"):
        value = err.get(key)
        if isinstance(value, str) and value in _KIND_BY_TYPE:
            kind = _KIND_BY_TYPE[value]
            break
        if isinstance(value, int) and not isinstance(value, bool):
            kind = kind_for_status(value)  # vLLM puts the HTTP status in `code`
            break
    return StreamError(kind or SERVER_ERROR, _describe(err)[:_MAX_DETAIL])


def decode_body(data: bytes, key: str, what: str) -> dict[str, Any]:
    """A 2xx upstream body as a JSON object whose `key` is a list, or UpstreamFormatError."""
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamFormatError(f"response is not JSON: {exc}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get(key), list):
        raise UpstreamFormatError(f"response is not {what}: {data[:200]!r}")
    return payload
