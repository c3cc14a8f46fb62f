"""What an upstream said went wrong: stream error kinds and internal error details.

This module *reads* what an upstream said; it never judges an HTTP status. The
one judge is `sekisho.routing.outcome.classify`, which takes the status and the
error kind read here. Kinds are coarse on purpose: the chat core only needs to
know whether a failure is the request's fault (returned to the caller, Rule 4)
or the upstream's (fail over, or 502/429 when no route is left). The upstream's
own words go into `detail`, which is for the internal request log only and may
name the provider.

    invalid_request          the request itself was refused (caused by the caller)
    context_length_exceeded  the prompt does not fit the model's context window
    rate_limited             a rate-limit error
    overloaded               an overloaded error
    timeout                  a timeout error
    authentication_error, permission_error, not_found
                             our key or upstream model is wrong: the route is broken
    billing                  our account at the provider (credit, payment): the route
                             is broken, never the caller's fault
    server_error             anything else upstream: 5xx, malformed output
    truncated                the stream closed before its end marker

(The names are the ones `routing.outcome.classify` reads.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from sekisho.adapters.base import StreamError

__all__ = [
    "AUTHENTICATION",
    "BILLING",
    "CONTEXT_LENGTH",
    "INVALID_REQUEST",
    "NOT_FOUND",
    "OVERLOADED",
    "PERMISSION",
    "RATE_LIMITED",
    "SERVER_ERROR",
    "TIMEOUT",
    "TRUNCATED",
    "UpstreamError",
    "UpstreamFormatError",
    "error_detail",
    "read_error",
    "stream_error",
]

INVALID_REQUEST = "invalid_request"
CONTEXT_LENGTH = "context_length_exceeded"
BILLING = "billing"
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
    "context_length_exceeded": CONTEXT_LENGTH,
    "string_above_max_length": INVALID_REQUEST,
    "BadRequestError": INVALID_REQUEST,
    "rate_limit_error": RATE_LIMITED,
    "rate_limit_exceeded": RATE_LIMITED,
    "insufficient_quota": BILLING,  # OpenAI: our account has no credit left
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
    "billing_error": BILLING,
    "billing_not_active": BILLING,
    "payment_required": BILLING,
}

# Some upstreams say what is wrong only in words, under a generic `invalid_request_error`.
_CONTEXT_PHRASES = (
    "prompt is too long",
    "maximum context length",
    "context length",
    "context window",
    "context_length_exceeded",
    "too many tokens",
    "input is too long",
)
_BILLING_PHRASES = ("credit balance", "billing", "payment required", "exceeded your current quota")


@dataclass(frozen=True, slots=True)
class UpstreamError:
    """What an upstream error body said: its kind (or None) and its words (internal only)."""

    kind: str | None
    detail: str


class UpstreamFormatError(Exception):
    """A 2xx upstream body we cannot read as the wire format promised: an upstream failure."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


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


def _kind(err: dict[str, Any]) -> tuple[str | None, int | None]:
    """The error kind an error object names (by code, type, then words), and a status in it."""
    kind: str | None = None
    status: int | None = None
    for key in ("code", "type"):
        value = err.get(key)
        if isinstance(value, str) and value in _KIND_BY_TYPE:
            kind = _KIND_BY_TYPE[value]
            break
        if isinstance(value, int) and not isinstance(value, bool) and status is None:
            status = value  # vLLM puts the HTTP status in `code`
    if kind in (None, INVALID_REQUEST):
        words = str(err.get("message") or "").lower()
        if any(p in words for p in _CONTEXT_PHRASES):
            kind = CONTEXT_LENGTH
        elif any(p in words for p in _BILLING_PHRASES):
            kind = BILLING
    return kind, status


def read_error(status: int, data: bytes) -> UpstreamError:
    """An upstream error body: the kind it names and its words, bounded, for the log."""
    try:
        err = _error_object(orjson.loads(data))
    except orjson.JSONDecodeError:
        err = None
    kind = None
    if err is not None:
        text = _describe(err)
        kind = _kind(err)[0]
    else:
        text = data[:_MAX_DETAIL].decode("utf-8", "replace").strip() or "(empty body)"
    return UpstreamError(kind, f"HTTP {status}: {text}"[:_MAX_DETAIL])


def error_detail(status: int, data: bytes) -> str:
    """The upstream's own error message, bounded, for the internal request log only."""
    return read_error(status, data).detail


def stream_error(payload: dict[str, Any]) -> StreamError:
    """A `StreamError` from an error event an upstream sent inside a 200 stream."""
    err = _error_object(payload) or {}
    kind, status = _kind(err)
    if kind is None and status is not None:
        kind = f"http_{status}"  # judged by routing.outcome.classify_stream_error
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
